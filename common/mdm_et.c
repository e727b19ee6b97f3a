/* US/Eastern calendar arithmetic on day numbers (days since 1970-01-01). */
#include "mdm_et.h"

#include <errno.h>
#include <stdbool.h>

#define NS_PER_DAY 86400000000000ULL
#define NS_PER_HOUR 3600000000000ULL

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil: a year starting in March puts the leap day last, so the
 * month lengths follow a linear formula). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse (civil_from_days), for days >= 0. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int weekday(int64_t days) /* 0 = Sunday; 1970-01-01 was a Thursday */
{
	return (int)((days + 4) % 7);
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Day number of the n-th (1-based) Sunday of month m of year y. */
static int64_t nth_sunday(int y, int m, int n)
{
	int64_t first = days_from_civil(y, m, 1);

	return first + (7 - weekday(first)) % 7 + 7 * (n - 1);
}

int mdm_et_date_valid(uint32_t yyyymmdd)
{
	int y = (int)(yyyymmdd / 10000), m = (int)(yyyymmdd / 100 % 100), d = (int)(yyyymmdd % 100);

	return y >= 1970 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= month_days(y, m);
}

int mdm_et_midnight_ns(uint32_t yyyymmdd, uint64_t *out_ns)
{
	int y = (int)(yyyymmdd / 10000), m = (int)(yyyymmdd / 100 % 100), d = (int)(yyyymmdd % 100);
	int64_t day;

	if (!mdm_et_date_valid(yyyymmdd))
		return -EINVAL;
	day = days_from_civil(y, m, d);
	/* The switches happen at 02:00 local, so a switch day's midnight still
	 * has the old offset: EDT covers midnights strictly after the March
	 * switch day, up to and including the November one. */
	*out_ns = (uint64_t)day * NS_PER_DAY +
		  (day > nth_sunday(y, 3, 2) && day <= nth_sunday(y, 11, 1) ? 4 : 5) * NS_PER_HOUR;
	return 0;
}

uint32_t mdm_et_date(uint64_t utc_ns)
{
	int y, m, d;
	int64_t on_ns, off_ns, offset;

	/* the year as seen in EST; DST instants: 07:00 UTC on the March switch
	 * day (02:00 EST) to 06:00 UTC on the November one (02:00 EDT) */
	civil_from_days((int64_t)((utc_ns - (utc_ns >= 5 * NS_PER_HOUR ? 5 * NS_PER_HOUR : utc_ns)) / NS_PER_DAY), &y,
			&m, &d);
	on_ns = nth_sunday(y, 3, 2) * (int64_t)NS_PER_DAY + 7 * (int64_t)NS_PER_HOUR;
	off_ns = nth_sunday(y, 11, 1) * (int64_t)NS_PER_DAY + 6 * (int64_t)NS_PER_HOUR;
	offset = (int64_t)utc_ns >= on_ns && (int64_t)utc_ns < off_ns ? 4 : 5;
	if (utc_ns < (uint64_t)offset * NS_PER_HOUR)
		return 19691231;
	civil_from_days((int64_t)((utc_ns - (uint64_t)offset * NS_PER_HOUR) / NS_PER_DAY), &y, &m, &d);
	return (uint32_t)(y * 10000 + m * 100 + d);
}
