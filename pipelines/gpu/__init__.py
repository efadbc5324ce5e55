"""GPU utilization logs (DCGM, nvidia-smi, CloudWatch, SageMaker) read into one ``gpu_samples`` frame."""
