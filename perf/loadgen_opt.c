/* Command-line values for mdmesh-loadgen, parsed by the config's own parsers
 * so an option accepts exactly what a config file would. */
#include "loadgen_opt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "mdm_addr.h"
#include "mdm_cfg.h"
#include "mdm_clock.h"
#include "mdm_err.h"

#define LOADGEN_SECS_MAX 1000000

int loadgen_opt_uint(const char *prog, const char *opt, const char *s, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	uint64_t v;

	if (mdm_cfg_parse_uint(s, &v) != 0) {
		fprintf(stderr, "%s: --%s: '%s' is not a number\n", prog, opt, s);
		return -1;
	}
	if (v < min || v > max) {
		fprintf(stderr, "%s: --%s %s out of range %" PRIu64 "..%" PRIu64 "\n", prog, opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int loadgen_opt_secs(const char *prog, const char *opt, const char *s, bool zero_ok, uint64_t *out_ns)
{
	uint64_t v;
	int rc = mdm_cfg_parse_duration(s, MDM_NS_PER_S, &v);

	if (rc == -EDOM) {
		fprintf(stderr, "%s: --%s: '%s' is not a whole number of nanoseconds\n", prog, opt, s);
		return -1;
	}
	if (rc != 0 || v > (uint64_t)LOADGEN_SECS_MAX * MDM_NS_PER_S || (v == 0 && !zero_ok)) {
		fprintf(stderr,
			"%s: --%s: '%s' is not a duration in %s..%ds (seconds, or with a unit: 250ms, 1.5s, 2m)\n",
			prog, opt, s, zero_ok ? "0" : "(0", LOADGEN_SECS_MAX);
		return -1;
	}
	*out_ns = v;
	return 0;
}

int loadgen_opt_fraction(const char *prog, const char *opt, const char *s, double *out)
{
	double v;

	if (mdm_cfg_parse_double(s, &v) != 0 || !(v >= 0 && v <= 1)) {
		fprintf(stderr, "%s: --%s: '%s' is not a fraction in 0..1\n", prog, opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

int loadgen_opt_addr(const char *prog, const char *opt, const char *s, struct sockaddr_in *out)
{
	if (mdm_addr_parse_v4(s, out) != 0) {
		fprintf(stderr, "%s: --%s: %s\n", prog, opt, mdm_err_last());
		return -1;
	}
	return 0;
}
