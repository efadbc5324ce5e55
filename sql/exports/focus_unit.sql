-- exports/focus_unit: a provider's unit spelled in FOCUS 1.2's unit format, as a macro: `focus_unit(unit)`.
-- Used by exports/focus.sql for PricingUnit and ConsumedUnit. FOCUS wants a time suffix as a plural word after one
-- hyphen ("GB-Months"), a rate as "<unit>/<singular time>", and words of letters and digits, starting with a letter.
-- Real exports write otherwise: CUR "GB-Mo", "Hrs", "DPU-Hour", "Lambda-GB-Second"; AWS's FOCUS export
-- "GiB/Second-Months", "Lambda-GB-Seconds". So:
--   * a final time word (Hrs, Hour, Mo, Month, Second, Sec, Day, Min, Yr, any case, singular or plural) after a
--     hyphen becomes the plural FOCUS word; the other hyphens before it become spaces ("Lambda GB-Seconds"), and a
--     per-second rate before it becomes "ps" ("GiBps-Months", as AWS's own "MiBps-Mo");
--   * a unit that is only a time word becomes the plural word ("Hrs" -> "Hours", "days" -> "Days");
--   * anything else is kept as written: a unit we cannot respell is still the provider's word for it.
create or replace temp macro focus_time_word(word) as
case
    when lower(word) in ('hrs', 'hr', 'hour', 'hours', 'h') then 'Hours'
    when lower(word) in ('mo', 'mos', 'month', 'months') then 'Months'
    when lower(word) in ('second', 'seconds', 'sec', 'secs') then 'Seconds'
    when lower(word) in ('minute', 'minutes', 'min', 'mins') then 'Minutes'
    when lower(word) in ('day', 'days') then 'Days'
    when lower(word) in ('year', 'years', 'yr', 'yrs') then 'Years'
end;

create or replace temp macro focus_unit(unit) as
case
    when unit is null or trim(unit) = '' then null
    when focus_time_word(trim(unit)) is not null then focus_time_word(trim(unit))
    when focus_time_word(regexp_extract(trim(unit), '^(.+)-([A-Za-z]+)$', 2)) is not null
        then replace(regexp_replace(regexp_extract(trim(unit), '^(.+)-([A-Za-z]+)$', 1), '/Seconds?$', 'ps'), '-', ' ')
        || '-' || focus_time_word(regexp_extract(trim(unit), '^(.+)-([A-Za-z]+)$', 2))
    else unit
end;
