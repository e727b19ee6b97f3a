/* mdm_bus_obj (Object Store wire layout on JetStream) against a real
 * nats-server: round trips of several sizes, a new version replacing (and
 * purging) the old, absent objects, corrupt metadata and digests refused
 * with a reason; and, when the nats CLI is there (MDM_NATS_CLI, else
 * <source>/.tools/bin/nats), interoperability both ways: `nats object get`
 * returns what we put, we get what `nats object put` stored, `nats object
 * ls` lists it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdm_buf.h"
#include "mdm_bus.h"
#include "mdm_err.h"
#include "mdm_mem.h"
#include "nats_server.h"

static struct nts_server g_js;
static struct mdm_bus *g_bus;

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
	return p;
}

static struct mdm_bus_obj *open_bucket(const char *bucket)
{
	struct mdm_bus_obj *o = NULL;

	assert_int_equal(mdm_bus_obj_open(g_bus, bucket, 1, &o), 0);
	return o;
}

static void test_round_trips(void **state)
{
	static const size_t sizes[] = { 0, 1, MDM_BUS_OBJ_CHUNK - 1, MDM_BUS_OBJ_CHUNK, MDM_BUS_OBJ_CHUNK + 1, 300000 };
	struct mdm_bus_obj *o = open_bucket("rt");
	struct mdm_buf got = MDM_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct mdm_bus_obj_info put, get;
		uint8_t *p = pattern(sizes[i], (unsigned)i);
		char name[32];

		snprintf(name, sizeof(name), "feed.obj-%zu", i);
		assert_int_equal(mdm_bus_obj_put(o, name, p, sizes[i], &put), 0);
		assert_int_equal(put.size, sizes[i]);
		assert_int_equal(put.chunks, (sizes[i] + MDM_BUS_OBJ_CHUNK - 1) / MDM_BUS_OBJ_CHUNK);
		assert_int_equal(mdm_bus_obj_get(o, name, &got, &get), 0);
		assert_int_equal(got.len, sizes[i]);
		if (sizes[i])
			assert_memory_equal(got.data, p, sizes[i]);
		assert_string_equal(get.nuid, put.nuid);
		assert_true(get.meta_seq > 0);
		free(p);
	}
	mdm_buf_fini(&got);
	mdm_bus_obj_destroy(o);
}

static void test_replace_purges_old_chunks(void **state)
{
	struct mdm_bus_obj *o = open_bucket("rp");
	struct mdm_bus_stream_info si;
	struct mdm_buf got = MDM_BUF_INIT;
	uint8_t *a = pattern(300000, 1), *b = pattern(200000, 2);

	(void)state;
	assert_int_equal(mdm_bus_obj_put(o, "x", a, 300000, NULL), 0);
	assert_int_equal(mdm_bus_obj_put(o, "x", b, 200000, NULL), 0);
	assert_int_equal(mdm_bus_obj_get(o, "x", &got, NULL), 0);
	assert_int_equal(got.len, 200000);
	assert_memory_equal(got.data, b, 200000);
	/* 2 chunks and 1 metadata message remain: the first version is gone */
	assert_int_equal(mdm_bus_stream_info(g_bus, "OBJ_rp", &si), 0);
	assert_int_equal(si.msgs, 3);
	free(a);
	free(b);
	mdm_buf_fini(&got);
	mdm_bus_obj_destroy(o);
}

static void test_absent(void **state)
{
	struct mdm_bus_obj *o = NULL;
	struct mdm_buf got = MDM_BUF_INIT;
	struct mdm_bus_obj_info info;

	(void)state;
	assert_int_equal(mdm_bus_obj_open(g_bus, "nobucket", 0, &o), -ENOENT);
	o = open_bucket("ab");
	assert_int_equal(mdm_bus_obj_get(o, "none", &got, NULL), -ENOENT);
	assert_int_equal(mdm_bus_obj_info(o, "none", &info), -ENOENT);
	{
		struct mdm_bus_obj *bad = NULL;

		assert_int_equal(mdm_bus_obj_open(g_bus, "bad.name", 1, &bad), -EINVAL);
		assert_null(bad);
	}
	mdm_buf_fini(&got);
	mdm_bus_obj_destroy(o);
}

/* Metadata written over the real one (no rollup needed: the last message of
 * the subject is the current version). */
static void put_meta(const char *bucket, const char *name_b64, const char *json)
{
	char subj[256];

	snprintf(subj, sizeof(subj), "$O.%s.M.%s", bucket, name_b64);
	assert_true(mdm_bus_js_publish(g_bus, subj, NULL, NULL, json, strlen(json), NULL) >= 0);
}

static void test_corrupt_refused(void **state)
{
	struct mdm_bus_obj *o = open_bucket("cr");
	struct mdm_bus_obj_info put;
	struct mdm_buf got = MDM_BUF_INIT;
	uint8_t *p = pattern(1000, 3);
	char json[512];

	(void)state;
	assert_int_equal(mdm_bus_obj_put(o, "y", p, 1000, &put), 0);
	/* "y" is eQ== in base64url */
	snprintf(json, sizeof(json),
		 "{\"name\":\"y\",\"bucket\":\"cr\",\"nuid\":\"%s\",\"size\":1000,\"chunks\":1,"
		 "\"digest\":\"SHA-256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}",
		 put.nuid);
	put_meta("cr", "eQ==", json);
	assert_int_equal(mdm_bus_obj_get(o, "y", &got, NULL), -EBADMSG);
	assert_non_null(strstr(mdm_err_last(), "digest"));
	snprintf(json, sizeof(json), "{\"name\":\"y\",\"bucket\":\"cr\",\"nuid\":\"%s\",\"size\":999,\"chunks\":1}",
		 put.nuid);
	put_meta("cr", "eQ==", json);
	assert_int_equal(mdm_bus_obj_get(o, "y", &got, NULL), -EBADMSG);
	assert_non_null(strstr(mdm_err_last(), "exceed"));
	snprintf(json, sizeof(json), "{\"name\":\"y\",\"bucket\":\"cr\",\"nuid\":\"%s\",\"size\":1000,\"chunks\":2}",
		 put.nuid);
	put_meta("cr", "eQ==", json);
	assert_int_equal(mdm_bus_obj_get(o, "y", &got, NULL), -EBADMSG);
	assert_non_null(strstr(mdm_err_last(), "chunk 2 of 2 missing"));
	put_meta("cr", "eQ==", "not json");
	assert_int_equal(mdm_bus_obj_get(o, "y", &got, NULL), -EPROTO);
	put_meta("cr", "eQ==", "{\"name\":\"y\",\"deleted\":true}");
	assert_int_equal(mdm_bus_obj_get(o, "y", &got, NULL), -ENOENT);
	free(p);
	mdm_buf_fini(&got);
	mdm_bus_obj_destroy(o);
}

/* ---- the nats CLI ---- */

static const char *nats_cli(void)
{
	static char path[512];
	const char *env = getenv("MDM_NATS_CLI"), *src = getenv("MDM_SRC_DIR");

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else if (src)
		snprintf(path, sizeof(path), "%s/.tools/bin/nats", src);
	else
		return NULL;
	return access(path, X_OK) == 0 ? path : NULL;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *w = fopen(path, "wb");

	assert_non_null(w);
	assert_int_equal(fwrite(p, 1, n, w), n);
	fclose(w);
}

static void test_nats_cli_interop(void **state)
{
	const char *cli = nats_cli();
	struct mdm_bus_obj *o;
	struct mdm_buf got = MDM_BUF_INIT;
	uint8_t *p = pattern(400000, 4);
	char url[64], dir[] = "/tmp/mdm-obj-cli.XXXXXX", f[128];

	(void)state;
	if (!cli) {
		print_message("no nats CLI (MDM_NATS_CLI, .tools/bin/nats): interop not tested\n");
		skip();
	}
	nts_url(&g_js, url, sizeof(url));
	assert_non_null(mkdtemp(dir));
	o = open_bucket("mdmesh-checkpoints");
	/* ours -> the CLI: the same bytes, and listed */
	assert_int_equal(mdm_bus_obj_put(o, "itch.collector-1", p, 400000, NULL), 0);
	snprintf(f, sizeof(f), "%s/want.bin", dir);
	write_file(f, p, 400000);
	assert_int_equal(run("'%s' -s %s object get mdmesh-checkpoints itch.collector-1 -O %s/got.bin --force "
			     ">/dev/null 2>&1 && cmp -s %s %s/got.bin",
			     cli, url, dir, f, dir),
			 0);
	assert_int_equal(run("'%s' -s %s object ls mdmesh-checkpoints --names 2>&1 | grep -qx itch.collector-1", cli, url),
			 0);
	/* the CLI -> ours (its own chunking and metadata) */
	snprintf(f, sizeof(f), "%s/put.bin", dir);
	write_file(f, p, 333333);
	assert_int_equal(run("'%s' -s %s object put mdmesh-checkpoints %s --name from-cli --force --no-progress "
			     ">/dev/null 2>&1",
			     cli, url, f),
			 0);
	assert_int_equal(mdm_bus_obj_get(o, "from-cli", &got, NULL), 0);
	assert_int_equal(got.len, 333333);
	assert_memory_equal(got.data, p, 333333);
	run("rm -rf %s", dir);
	free(p);
	mdm_buf_fini(&got);
	mdm_bus_obj_destroy(o);
}

static int group_setup(void **state)
{
	(void)state;
	nts_start(&g_js, "mdm-obj-test", true, NULL, NULL);
	g_bus = nts_bus_open(&g_js, NULL);
	return g_bus ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	mdm_bus_destroy(g_bus);
	nts_stop(&g_js);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_replace_purges_old_chunks),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_corrupt_refused),
		cmocka_unit_test(test_nats_cli_interop),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
