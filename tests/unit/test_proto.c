/*
 * proto: round trips, and the strictness a supervisor relies on when a
 * compromised worker sends it garbage.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "suites.h"

static unsigned char *encode_sample(size_t *len)
{
	struct proto_result r = { .id = 42, .kind = JOB_SYNC, .secret_op = SECOP_UPDATED,
	    .retry_after = -1, .restarts_ok = 3, .reason = "", .message = "Secret x updated",
	    .data_hash = "abc123", .secret_rv = "77",
	    .rollouts = "restarted 200 Deployment/web\nnotfound 404 StatefulSet/db\n" };
	unsigned char *buf;

	ck_assert_int_gt(proto_encode_result(&r, &buf, len), 0);
	return buf;
}

START_TEST(job_round_trip)
{
	struct proto_job j = { .id = 7, .kind = JOB_SYNC, .now_ms = 1700000000123LL,
	    .generation = 3, .ns = "default", .name = "app", .uid = "u-1",
	    .spec_json = "{\"a\":1}", .store_url = "https://pam", .key_ns = "default",
	    .key_name = "k", .key_key = "key", .prev_hash = "", .target = "t",
	    .rollout = "Deployment/x\n", .kube_token = NULL,
	    .resolve = "pam.example.test:443:10.0.0.1,[fd00::1]\n" };
	struct proto_job d;
	unsigned char *buf;
	size_t len;
	char err[128];

	ck_assert_int_gt(proto_encode_job(&j, &buf, &len), 0);
	ck_assert_int_eq(proto_peek_type(buf, len), PROTO_JOB);
	ck_assert_int_eq(proto_decode_job(buf, len, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(d.id, 7);
	ck_assert_int_eq(d.now_ms, 1700000000123LL);
	ck_assert_str_eq(d.spec_json, "{\"a\":1}");
	ck_assert_str_eq(d.rollout, "Deployment/x\n");
	ck_assert_str_eq(d.kube_token, "");   /* absent strings decode as "" */
	ck_assert_str_eq(d.resolve, "pam.example.test:443:10.0.0.1,[fd00::1]\n");
	proto_job_free(&d);
	free(buf);
}
END_TEST

START_TEST(result_round_trip)
{
	struct proto_result d;
	size_t len;
	unsigned char *buf = encode_sample(&len);
	char err[128];

	ck_assert_int_eq(proto_decode_result(buf, len, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(d.id, 42);
	ck_assert_int_eq(d.retry_after, -1);
	ck_assert_int_eq(d.restarts_ok, 3);
	ck_assert_str_eq(d.message, "Secret x updated");
	ck_assert_str_eq(d.data_hash, "abc123");
	ck_assert_str_eq(d.rollouts, "restarted 200 Deployment/web\nnotfound 404 StatefulSet/db\n");
	proto_result_free(&d);
	free(buf);
}
END_TEST

START_TEST(rejects_every_truncation)
{
	struct proto_result d;
	size_t len;
	unsigned char *buf = encode_sample(&len);
	char err[128];

	for (size_t n = 0; n < len; n++)
		ck_assert_int_eq(proto_decode_result(buf, n, &d, err, sizeof(err)), -1);
	free(buf);
}
END_TEST

START_TEST(version_is_three)
{
	size_t len;
	unsigned char *buf = encode_sample(&len);

	/* version 2: the result's rollout report replaced reason/message;
	 * 3: results carry the worker's Kubernetes requests (kube_codes) */
	ck_assert_int_eq(PROTO_VERSION, 3);
	ck_assert_int_eq(buf[4] << 8 | buf[5], 3);
	free(buf);
}
END_TEST

START_TEST(rejects_wrong_type_version_and_trailing)
{
	struct proto_result d;
	struct proto_job j;
	size_t len;
	unsigned char *buf = encode_sample(&len), *big;
	char err[128];

	/* a result is not a job */
	ck_assert_int_eq(proto_decode_job(buf, len, &j, err, sizeof(err)), -1);
	buf[5] ^= 1;   /* version */
	ck_assert_int_eq(proto_decode_result(buf, len, &d, err, sizeof(err)), -1);
	buf[5] ^= 1;
	big = malloc(len + 1);
	memcpy(big, buf, len);
	big[len] = 0;  /* trailing byte, header length unchanged */
	ck_assert_int_eq(proto_decode_result(big, len + 1, &d, err, sizeof(err)), -1);
	free(big);
	free(buf);
}
END_TEST

START_TEST(rejects_embedded_nul_and_repeats)
{
	struct proto_result d;
	size_t len;
	unsigned char *buf = encode_sample(&len);
	char err[128];
	unsigned char *p = memmem(buf, len, "Secret x", 8);

	ck_assert_ptr_nonnull(p);
	p[3] = '\0';
	ck_assert_int_eq(proto_decode_result(buf, len, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	p[3] = 'r';
	/* make the second field repeat the first's tag (1) */
	unsigned char *second = buf + PROTO_HDR_LEN + 6 + 8;
	second[1] = 1;
	ck_assert_int_eq(proto_decode_result(buf, len, &d, err, sizeof(err)), -1);
	free(buf);
}
END_TEST

START_TEST(refuses_oversized_fields)
{
	struct proto_result r = { .reason = NULL };
	char *huge = malloc(5000);
	unsigned char *buf;
	size_t len;

	memset(huge, 'a', 4999);
	huge[4999] = '\0';
	r.message = huge;   /* cap is 4096 */
	ck_assert_int_eq(proto_encode_result(&r, &buf, &len), -1);
	free(huge);
}
END_TEST

Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, job_round_trip);
	tcase_add_test(tc, result_round_trip);
	tcase_add_test(tc, rejects_every_truncation);
	tcase_add_test(tc, version_is_three);
	tcase_add_test(tc, rejects_wrong_type_version_and_trailing);
	tcase_add_test(tc, rejects_embedded_nul_and_repeats);
	tcase_add_test(tc, refuses_oversized_fields);
	suite_add_tcase(s, tc);
	return s;
}
