/* Fuzz target: bytes are a config YAML document for a schema with one key of
 * every mdm_cfg type (bounded and unbounded, nested sections, defaults).
 * A load either fails with a located message or yields values inside their
 * bounds; then mdm_cfg_print's output must load back to the same values (the
 * documented round trip). A second load with an allocation failure injected
 * at an input-chosen point must fail cleanly or succeed, and never leak. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mdm_buf.h"
#include "mdm_cfg.h"
#include "mdm_err.h"
#include "mdm_mem.h"

struct fz_cfg {
	char *name;
	char *plain;
	bool flag;
	int64_t small;
	int64_t big;
	uint64_t count;
	uint64_t any;
	double ratio;
	double scale;
	uint64_t flush_ns;
	uint64_t buffer_bytes;
	int mode;
	struct mdm_cfg_strlist servers;
	struct mdm_cfg_raw rules;
};

static const char *const modes[] = { "event", "batch", "off", NULL };

#define OFF(f) offsetof(struct fz_cfg, f)
static const struct mdm_cfg_field schema[] = {
	{ "name", MDM_CFG_STR, OFF(name), "mdmesh", 0, 0, NULL, "a string with a default" },
	{ "section.plain", MDM_CFG_STR, OFF(plain), NULL, 0, 0, NULL, "a string without one" },
	{ "flag", MDM_CFG_BOOL, OFF(flag), "false", 0, 0, NULL, "a bool" },
	{ "section.small", MDM_CFG_INT, OFF(small), "-3", -1000, 1000, NULL, "a bounded int" },
	{ "section.deep.big", MDM_CFG_INT, OFF(big), "0", 0, 0, NULL, "an unbounded int" },
	{ "section.count", MDM_CFG_UINT, OFF(count), "7", 1, 1000000, NULL, "a bounded uint" },
	{ "any", MDM_CFG_UINT, OFF(any), NULL, 0, 0, NULL, "an unbounded uint" },
	{ "section.deep.ratio", MDM_CFG_DOUBLE, OFF(ratio), "0.5", 0, 1, NULL, "a bounded double" },
	{ "scale", MDM_CFG_DOUBLE, OFF(scale), "-2.5e3", 0, 0, NULL, "an unbounded double" },
	{ "timing.flush", MDM_CFG_DURATION, OFF(flush_ns), "5ms", 1000, 3600e9, NULL, "a duration" },
	{ "timing.buffer", MDM_CFG_SIZE, OFF(buffer_bytes), "64KiB", 0, 0, NULL, "a size" },
	{ "mode", MDM_CFG_ENUM, OFF(mode), "event", 0, 0, modes, "an enum" },
	{ "servers", MDM_CFG_STRLIST, OFF(servers), "a:1, b:2", 0, 0, NULL, "a string list" },
	{ "rules", MDM_CFG_RAW, OFF(rules), NULL, 0, 0, NULL, "a raw subtree" },
};
#define NS (sizeof(schema) / sizeof(schema[0]))

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_bounds(const struct fz_cfg *c)
{
	FUZZ_CHECK(c->small >= -1000 && c->small <= 1000);
	FUZZ_CHECK(c->count >= 1 && c->count <= 1000000);
	FUZZ_CHECK(isfinite(c->ratio) && c->ratio >= 0 && c->ratio <= 1);
	FUZZ_CHECK(isfinite(c->scale));
	FUZZ_CHECK(c->flush_ns >= 1000 && c->flush_ns <= 3600000000000ull);
	FUZZ_CHECK(c->mode >= 0 && c->mode < 3);
	FUZZ_CHECK((c->servers.n == 0) == (c->servers.v == NULL));
	for (size_t i = 0; i < c->servers.n; i++)
		FUZZ_CHECK(c->servers.v[i] != NULL);
	FUZZ_CHECK(!c->rules.node || c->rules.origin);
}

static void check_same(const struct fz_cfg *a, const struct fz_cfg *b)
{
	struct mdm_buf fa = MDM_BUF_INIT, fb = MDM_BUF_INIT;

	FUZZ_CHECK(str_eq(a->name, b->name) && str_eq(a->plain, b->plain));
	FUZZ_CHECK(a->flag == b->flag && a->small == b->small && a->big == b->big);
	FUZZ_CHECK(a->count == b->count && a->any == b->any);
	FUZZ_CHECK(a->ratio == b->ratio && a->scale == b->scale);
	FUZZ_CHECK(a->flush_ns == b->flush_ns && a->buffer_bytes == b->buffer_bytes && a->mode == b->mode);
	FUZZ_CHECK(a->servers.n == b->servers.n);
	for (size_t i = 0; i < a->servers.n; i++)
		FUZZ_CHECK(strcmp(a->servers.v[i], b->servers.v[i]) == 0);
	FUZZ_CHECK(mdm_yaml_write_flow(&fa, a->rules.node) == 0 && mdm_yaml_write_flow(&fb, b->rules.node) == 0);
	FUZZ_CHECK(fa.len == fb.len && (fa.len == 0 || memcmp(fa.data, fb.data, fa.len) == 0));
	mdm_buf_fini(&fa);
	mdm_buf_fini(&fb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_cfg c = { 0 }, back = { 0 };
	uint64_t base = mdm_mem_used();
	char *printed = NULL;
	size_t plen = 0;
	FILE *f;
	int rc;

	rc = mdm_cfg_load_string(schema, NS, &c, (const char *)data, size, "fuzz.yaml");
	if (rc != 0) {
		FUZZ_CHECK(rc == -EINVAL);
		FUZZ_CHECK(strncmp(mdm_err_last(), "fuzz.yaml", 9) == 0);
		FUZZ_CHECK(mdm_mem_used() == base);
		return 0;
	}
	check_bounds(&c);
	f = open_memstream(&printed, &plen);
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(mdm_cfg_print(schema, NS, &c, f) == 0);
	FUZZ_CHECK(fclose(f) == 0);
	if (mdm_cfg_load_string(schema, NS, &back, printed, plen, "printed") != 0)
		abort();
	check_same(&c, &back);
	free(printed);
	mdm_cfg_free(schema, NS, &back);
	mdm_cfg_free(schema, NS, &c);
	FUZZ_CHECK(mdm_mem_used() == base);

	mdm_mem_fail_after(1 + (size * 31 + (size ? data[size / 2] : 0)) % 61);
	rc = mdm_cfg_load_string(schema, NS, &c, (const char *)data, size, "fuzz.yaml");
	mdm_mem_fail_reset();
	FUZZ_CHECK(rc == 0 || rc == -ENOMEM);
	mdm_cfg_free(schema, NS, &c);
	FUZZ_CHECK(mdm_mem_used() == base);
	return 0;
}
