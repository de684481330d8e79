/*
 * test_log - log lines as they reach stderr: layout, escaping in both
 * formats, level filter, the length cap and whole lines under threads.
 *
 * stderr is pointed at a temporary file (dup2) while a test logs, then
 * restored and the file read back.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define CAP_MAX (1 << 20)

static FILE *cap_file;
static int cap_saved = -1;
static char cap_buf[CAP_MAX + 1];

/* cap_start - send stderr to a fresh temporary file. */
static void
cap_start(void)
{
	cap_file = tmpfile();
	ck_assert_ptr_nonnull(cap_file);
	cap_saved = dup(STDERR_FILENO);
	ck_assert_int_ge(cap_saved, 0);
	ck_assert_int_eq(dup2(fileno(cap_file), STDERR_FILENO), STDERR_FILENO);
}

/* cap_end - restore stderr and return everything written meanwhile. */
static const char *
cap_end(void)
{
	size_t n;

	ck_assert_int_eq(dup2(cap_saved, STDERR_FILENO), STDERR_FILENO);
	close(cap_saved);
	rewind(cap_file);
	n = fread(cap_buf, 1, CAP_MAX, cap_file);
	cap_buf[n] = '\0';
	fclose(cap_file);
	return cap_buf;
}

/*
 * after_ts - check the line opens with a well-formed timestamp field and
 * return what follows it ("ts=" + 24 characters + separator).
 */
static const char *
after_ts(const char *line, bool json)
{
	const char *pre = json ? "{\"ts\":\"" : "ts=";
	const char *pat = "dddd-dd-ddTdd:dd:dd.dddZ";
	const char *t;
	size_t i;

	ck_assert_msg(strncmp(line, pre, strlen(pre)) == 0, "line: %s", line);
	t = line + strlen(pre);
	for (i = 0; pat[i] != '\0'; i++) {
		if (pat[i] == 'd')
			ck_assert_msg(t[i] >= '0' && t[i] <= '9', "ts: %s", t);
		else
			ck_assert_msg(t[i] == pat[i], "ts: %s", t);
	}
	return t + strlen(pat) + (json ? 1 : 0);
}

/* The logfmt layout of the example in log.h. */
START_TEST(test_logfmt_layout)
{
	const char *out;

	log_init("supervisor", false, LOG_DEBUG);
	cap_start();
	log_kv(LOG_INFO, "synced", "object", "default/app", "hash", "abc",
	    NULL);
	out = cap_end();
	ck_assert_str_eq(after_ts(out, false), " level=info "
	    "component=supervisor msg=synced object=default/app hash=abc\n");
}
END_TEST

/* Quoting and escaping of logfmt values and keys. */
START_TEST(test_logfmt_escape)
{
	const char *out;

	log_init("worker", false, LOG_DEBUG);
	cap_start();
	log_kv(LOG_WARN, "two words",
	    "a", "has space", "b", "k=v", "c", "say \"hi\"",
	    "d", "line\nbreak\ttab\rcr", "e", "\x01\x1f\x7f", "f", "back\\slash",
	    "g", "back\\ slash", "h", "", "i", "\303\274ber", "j", "\xff\xc3",
	    "bad key=\"", "v", "", "empty key", NULL);
	out = cap_end();
	ck_assert_str_eq(after_ts(out, false),
	    " level=warn component=worker msg=\"two words\""
	    " a=\"has space\" b=\"k=v\" c=\"say \\\"hi\\\"\""
	    " d=\"line\\nbreak\\ttab\\rcr\" e=\"\\u0001\\u001f\\u007f\""
	    " f=back\\slash g=\"back\\\\ slash\" h=\"\" i=\303\274ber"
	    " j=\"\\xff\\xc3\" bad_key__=v _=\"empty key\"\n");
}
END_TEST

/* A NULL value is shown and ends the pairs (it may be the sentinel). */
START_TEST(test_null_value)
{
	const char *out;

	log_init("worker", false, LOG_DEBUG);
	cap_start();
	log_kv(LOG_ERROR, NULL, "a", (const char *)NULL, NULL);
	out = cap_end();
	ck_assert_str_eq(after_ts(out, false),
	    " level=error component=worker msg=\"\" a=(null)\n");
}
END_TEST

/* json_line - parse one JSON line, failing the test if it is not valid. */
static cJSON *
json_line(const char *out)
{
	cJSON *j;

	ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1,
	    "not one line: %s", out);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "invalid JSON: %s", out);
	return j;
}

/* json_str - the string member k of j. */
static const char *
json_str(const cJSON *j, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	ck_assert_msg(cJSON_IsString(v), "no string %s", k);
	return v->valuestring;
}

/* JSON mode: same keys and order, values survive a JSON round trip. */
START_TEST(test_json)
{
	static const char *const vals[] = {
		"has space", "k=v", "say \"hi\"", "line\nbreak\ttab",
		"\x01\x1f\x7f", "back\\slash", "", "\303\274ber", "a/b",
	};
	const char *head = ",\"level\":\"debug\",\"component\":\"pamsim\","
	    "\"msg\":\"say \\\"x\\\"\",\"a\":\"has space\",";
	const char *out;
	cJSON *j;
	size_t i;
	char k[2] = "a";

	log_init("pamsim", true, LOG_DEBUG);
	cap_start();
	log_kv(LOG_DEBUG, "say \"x\"", "a", vals[0], "b", vals[1],
	    "c", vals[2], "d", vals[3], "e", vals[4], "f", vals[5],
	    "g", vals[6], "h", vals[7], "i", vals[8], "j", "\xff", "k\"q",
	    "1", NULL);
	out = cap_end();

	ck_assert_msg(strncmp(after_ts(out, true), head, strlen(head)) == 0,
	    "layout: %s", out);
	j = json_line(out);
	ck_assert_str_eq(json_str(j, "level"), "debug");
	ck_assert_str_eq(json_str(j, "msg"), "say \"x\"");
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		k[0] = (char)('a' + i);
		ck_assert_str_eq(json_str(j, k), vals[i]);
	}
	/* Bytes that are not UTF-8 become U+FFFD rather than invalid JSON. */
	ck_assert_str_eq(json_str(j, "j"), "\xef\xbf\xbd");
	ck_assert_str_eq(json_str(j, "k\"q"), "1");
	cJSON_Delete(j);
}
END_TEST

/* Lines below the minimum level are dropped; the parser knows the names. */
START_TEST(test_level)
{
	const char *out;

	log_init("supervisor", false, LOG_WARN);
	ck_assert(!log_enabled(LOG_INFO));
	ck_assert(log_enabled(LOG_ERROR));
	cap_start();
	log_kv(LOG_DEBUG, "no", NULL);
	log_kv(LOG_INFO, "no", NULL);
	log_msg(LOG_INFO, "no %d", 1);
	log_kv(LOG_WARN, "yes", NULL);
	log_msg(LOG_ERROR, "count %d of %s", 3, "x y");
	out = cap_end();
	ck_assert_ptr_null(strstr(out, "msg=no"));
	ck_assert_ptr_nonnull(strstr(out, "level=warn component=supervisor "
	    "msg=yes\n"));
	ck_assert_ptr_nonnull(strstr(out, "level=error component=supervisor "
	    "msg=\"count 3 of x y\"\n"));

	ck_assert_int_eq(log_level_parse("debug"), LOG_DEBUG);
	ck_assert_int_eq(log_level_parse("info"), LOG_INFO);
	ck_assert_int_eq(log_level_parse("WARN"), LOG_WARN);
	ck_assert_int_eq(log_level_parse("error"), LOG_ERROR);
	ck_assert_int_eq(log_level_parse("warning"), -1);
	ck_assert_int_eq(log_level_parse(""), -1);
	ck_assert_int_eq(log_level_parse(NULL), -1);
}
END_TEST

/* A long value is cut at 8 KiB, marked, and the line stays well-formed. */
START_TEST(test_truncate_value)
{
	static char big[20001];
	const char *out, *v;
	cJSON *j;
	size_t n, i;

	/* Two-byte characters, so a cut in the middle of one would show. */
	for (i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[i] = '\0';

	log_init("worker", false, LOG_INFO);
	cap_start();
	log_kv(LOG_INFO, "big", "v", big, "after", "x", NULL);
	out = cap_end();
	n = strlen(out);
	ck_assert_uint_le(n, 8192);
	ck_assert_uint_gt(n, 8000);
	ck_assert_str_eq(out + n - 4, "...\n");
	ck_assert_ptr_null(strstr(out, "after"));

	log_init("worker", true, LOG_INFO);
	cap_start();
	log_kv(LOG_INFO, "big", "v", big, "after", "x", NULL);
	out = cap_end();
	ck_assert_uint_le(strlen(out), 8192);
	j = json_line(out);
	v = json_str(j, "v");
	n = strlen(v);
	ck_assert_str_eq(v + n - 3, "...");
	ck_assert_uint_eq((n - 3) % 2, 0);
	for (i = 0; i + 3 < n; i += 2)
		ck_assert(memcmp(v + i, "\xc3\xa9", 2) == 0);
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "after"));
	cJSON_Delete(j);
}
END_TEST

/* log_many - 90 pairs of about 100 bytes each: more than a line holds. */
static void
log_many(void)
{
	char v[101];

	memset(v, 'z', 100);
	v[100] = '\0';
#define P10 "k", v, "k", v, "k", v, "k", v, "k", v, \
	    "k", v, "k", v, "k", v, "k", v, "k", v
	log_kv(LOG_INFO, "many", P10, P10, P10, P10, P10, P10, P10, P10, P10,
	    NULL);
#undef P10
}

/* Too many fields: the pair that does not fit is dropped and marked. */
START_TEST(test_truncate_fields)
{
	const char *out;
	size_t n;
	cJSON *j;

	log_init("worker", false, LOG_INFO);
	cap_start();
	log_many();
	out = cap_end();
	n = strlen(out);
	ck_assert_uint_le(n, 8192);
	ck_assert(strcmp(out + n - 5, " ...\n") == 0 ||
	    strcmp(out + n - 5, "z...\n") == 0);

	log_init("worker", true, LOG_INFO);
	cap_start();
	log_many();
	out = cap_end();
	ck_assert_uint_le(strlen(out), 8192);
	j = json_line(out);
	cJSON_Delete(j);
}
END_TEST

/* log_thread - write many lines, each recognisable by its thread. */
static void *
log_thread(void *arg)
{
	int i;

	for (i = 0; i < 300; i++)
		log_kv(LOG_INFO, "tick", "who", (const char *)arg,
		    "pad", "...........................................", NULL);
	return NULL;
}

/* Concurrent lines never interleave: every line read back is whole. */
START_TEST(test_threads)
{
	static const char *const who[] = { "t0", "t1", "t2", "t3" };
	pthread_t th[4];
	const char *out, *p, *nl;
	int i, lines = 0;
	size_t len0 = 0;

	log_init("worker", false, LOG_INFO);
	cap_start();
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, log_thread, (void *)who[i]);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	out = cap_end();

	for (p = out; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert(strncmp(after_ts(p, false), " level=info component="
		    "worker msg=tick who=t", 40) == 0);
		/* Same fields, fixed-width timestamp: every line is as long. */
		if (len0 == 0)
			len0 = (size_t)(nl - p);
		ck_assert_uint_eq((size_t)(nl - p), len0);
		lines++;
	}
	ck_assert_int_eq(lines, 1200);
}
END_TEST

/* log_suite - registered by tests/unit/main.c. */
Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("lines");

	tcase_add_test(tc, test_logfmt_layout);
	tcase_add_test(tc, test_logfmt_escape);
	tcase_add_test(tc, test_null_value);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_level);
	tcase_add_test(tc, test_truncate_value);
	tcase_add_test(tc, test_truncate_fields);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}
