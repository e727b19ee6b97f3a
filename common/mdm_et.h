/* US/Eastern trading-day calendar, computed (not looked up): NASDAQ ITCH
 * timestamps are ns since midnight Eastern of the trading date, so making them
 * absolute needs that midnight, and stamping a live feed needs today's Eastern
 * date. The US DST rule since 2007: EDT (UTC-4) from the 2nd Sunday of March
 * 02:00 local to the 1st Sunday of November 02:00 local, else EST (UTC-5).
 * Pure functions: no TZ environment, no localtime (neither pure nor
 * thread-safe). Dates from 1970 to 9999. */
#ifndef MDM_ET_H
#define MDM_ET_H

#include <stdint.h>

/* UTC ns of midnight US/Eastern starting date YYYYMMDD. 0 or -EINVAL. */
int mdm_et_midnight_ns(uint32_t yyyymmdd, uint64_t *out_ns);

/* The US/Eastern calendar date (YYYYMMDD) of the instant utc_ns. */
uint32_t mdm_et_date(uint64_t utc_ns);

/* Whether YYYYMMDD is a valid date (1970..9999). */
int mdm_et_date_valid(uint32_t yyyymmdd);

#endif
