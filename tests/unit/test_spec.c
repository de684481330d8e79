/*
 * spec: every refusal names its field; defaults; the service-account
 * token guard.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "spec.h"
#include "suites.h"

#define BASE \
    "{\"monoStoreRef\":{\"name\":\"pam\"},\"target\":{\"name\":\"out\"}," \
    "\"refreshInterval\":\"%s\",\"data\":[{\"secretKey\":\"%s\",\"remoteRef\":" \
    "{\"vaultID\":\"%s\",\"property\":\"Password\"}}]%s}"

/* parse - build a spec from the template and parse it; returns rc. */
static int parse(const char *refresh, const char *key, const char *vault, const char *extra,
    char *msg, const char **reason, struct msec_spec *out)
{
	char json[4096];
	struct msec_spec s;
	cJSON *j;
	int rc;

	snprintf(json, sizeof(json), BASE, refresh, key, vault, extra);
	j = cJSON_Parse(json);
	ck_assert_ptr_nonnull(j);
	rc = spec_msec_parse(j, out ? out : &s, reason, msg, 512);
	if (rc == 0 && out == NULL)
		spec_msec_free(&s);
	if (out == NULL)
		cJSON_Delete(j);
	return rc;
}

START_TEST(accepts_seed_example)
{
	char msg[512];
	const char *reason;
	struct msec_spec s;
	char json[4096];

	snprintf(json, sizeof(json), BASE, "2h30m", "password", "2f0c7d0e-1b2a-4c3d-9e8f-0a1b2c3d4e5f", "");
	cJSON *j = cJSON_Parse(json);
	ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), 0);
	ck_assert_int_eq(s.refresh_ms, 9000000);
	ck_assert_int_eq(s.creation, CREATE_OWNER);
	ck_assert_int_eq(s.deletion, DELETE_DELETE);
	ck_assert_str_eq(s.data[0].property, "Password");
	spec_msec_free(&s);
	cJSON_Delete(j);
}
END_TEST

START_TEST(refresh_zero_means_never)
{
	char msg[512];
	const char *reason;
	struct msec_spec s;
	char json[4096];

	snprintf(json, sizeof(json), BASE, "0", "k", "abcd", "");
	cJSON *j = cJSON_Parse(json);
	ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), 0);
	ck_assert_int_eq(s.refresh_ms, 0);
	spec_msec_free(&s);
	cJSON_Delete(j);
}
END_TEST

START_TEST(bad_refresh_names_field)
{
	char msg[512];
	const char *reason;

	ck_assert_int_eq(parse("5 minutes", "k", "abcd", "", msg, &reason, NULL), -1);
	ck_assert_str_eq(reason, "InvalidRefreshInterval");
	ck_assert_ptr_nonnull(strstr(msg, "spec.refreshInterval"));
	ck_assert_int_eq(parse("-5m", "k", "abcd", "", msg, &reason, NULL), -1);
	ck_assert_ptr_nonnull(strstr(msg, "negative"));
}
END_TEST

START_TEST(bad_key_and_vault_name_field)
{
	char msg[512];
	const char *reason;

	ck_assert_int_eq(parse("1h", "bad key!", "abcd", "", msg, &reason, NULL), -1);
	ck_assert_str_eq(reason, "InvalidSpec");
	ck_assert_ptr_nonnull(strstr(msg, "spec.data[0].secretKey"));
	ck_assert_int_eq(parse("1h", "k", "../../x", "", msg, &reason, NULL), -1);
	ck_assert_ptr_nonnull(strstr(msg, "spec.data[0].remoteRef.vaultID"));
}
END_TEST

START_TEST(duplicate_keys_refused)
{
	char msg[512];
	const char *reason;
	struct msec_spec s;
	cJSON *j = cJSON_Parse("{\"monoStoreRef\":{\"name\":\"p\"},\"target\":{\"name\":\"o\"},"
	    "\"data\":[{\"secretKey\":\"k\",\"remoteRef\":{\"vaultID\":\"ab\"}},"
	    "{\"secretKey\":\"k\",\"remoteRef\":{\"vaultID\":\"cd\"}}]}");

	ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), -1);
	ck_assert_ptr_nonnull(strstr(msg, "spec.data[1].secretKey"));
	ck_assert_ptr_nonnull(strstr(msg, "duplicates"));
	cJSON_Delete(j);
}
END_TEST

START_TEST(service_account_token_refused)
{
	char msg[512];
	const char *reason;
#define TPL "{\"monoStoreRef\":{\"name\":\"p\"},\"target\":{\"name\":\"o\"," \
	    "\"template\":%s},\"dataFrom\":[{\"extract\":{\"vaultID\":\"ab\"}}]}"
	char json[1024];
	struct msec_spec s;

	snprintf(json, sizeof(json), TPL, "{\"type\":\"kubernetes.io/service-account-token\"}");
	cJSON *j = cJSON_Parse(json);
	ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), -1);
	ck_assert_ptr_nonnull(strstr(msg, "spec.target.template.type"));
	cJSON_Delete(j);
	snprintf(json, sizeof(json), TPL, "{\"metadata\":{\"annotations\":"
	    "{\"kubernetes.io/service-account.name\":\"default\"}}}");
	j = cJSON_Parse(json);
	ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), -1);
	ck_assert_ptr_nonnull(strstr(msg, "kubernetes.io/service-account.name"));
	cJSON_Delete(j);
}
END_TEST

START_TEST(rollout_kinds_and_reserved_annotations)
{
	char msg[512];
	const char *reason;
	struct msec_spec s;
#define RO "{\"monoStoreRef\":{\"name\":\"p\"},\"target\":{\"name\":\"o\"%s}," \
	    "\"dataFrom\":[{\"extract\":{\"vaultID\":\"ab\"}}],\"rollout\":{\"enabled\":true," \
	    "\"targets\":[{\"kind\":\"%s\",\"name\":\"web\"}]}}"
	char json[1024];
	cJSON *j;

	/* a kind we cannot restart is the rollout's failure, not the sync's */
	snprintf(json, sizeof(json), RO, "", "CronJob");
	j = cJSON_Parse(json);
	ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), 0);
	ck_assert_str_eq(s.rollout[0].kind, "CronJob");
	spec_msec_free(&s);
	cJSON_Delete(j);
	/* but it must be a word: it travels in "Kind/name" lines */
	snprintf(json, sizeof(json), RO, "", "Deployment/x\\nDeployment");
	j = cJSON_Parse(json);
	ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), -1);
	ck_assert_ptr_nonnull(strstr(msg, "spec.rollout.targets[0].kind"));
	cJSON_Delete(j);
	snprintf(json, sizeof(json), RO, ",\"template\":{\"metadata\":{\"annotations\":"
	    "{\"pam.monofor.com/rollout-pending\":\"x\"}}}", "Deployment");
	j = cJSON_Parse(json);
	ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), -1);
	ck_assert_ptr_nonnull(strstr(msg, "annotations.pam.monofor.com/rollout-pending"));
	ck_assert_ptr_nonnull(strstr(msg, "reserved"));
	cJSON_Delete(j);
}
END_TEST

/* The operator's own label and annotations would be rewritten by it on
 * every sync, a write loop: the template may not set them. */
START_TEST(operator_marks_refused_in_template)
{
	char msg[512], json[1024];
	const char *reason;
	struct msec_spec s;
	static const char *const tpl[] = {
		"{\"metadata\":{\"labels\":{\"app.kubernetes.io/managed-by\":\"me\"}}}",
		"{\"metadata\":{\"annotations\":{\"pam.monofor.com/data-hash\":\"x\"}}}",
	};
	static const char *const field[] = {
		"spec.target.template.metadata.labels.app.kubernetes.io/managed-by",
		"spec.target.template.metadata.annotations.pam.monofor.com/data-hash",
	};

	for (int i = 0; i < 2; i++) {
		snprintf(json, sizeof(json), TPL, tpl[i]);
		cJSON *j = cJSON_Parse(json);
		ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), -1);
		ck_assert_str_eq(reason, "InvalidSpec");
		ck_assert_ptr_nonnull(strstr(msg, field[i]));
		cJSON_Delete(j);
	}
	snprintf(json, sizeof(json), TPL, "{\"metadata\":{\"labels\":{\"team\":\"a\"},"
	    "\"annotations\":{\"example.com/note\":\"b\"}}}");
	cJSON *j = cJSON_Parse(json);
	ck_assert_int_eq(spec_msec_parse(j, &s, &reason, msg, sizeof(msg)), 0);
	spec_msec_free(&s);
	cJSON_Delete(j);
}
END_TEST

/* Cleanup of a MonoSecret whose spec no longer parses: Retain only when
 * it says so. */
START_TEST(lenient_deletion_policy)
{
	cJSON *r = cJSON_Parse("{\"target\":{\"deletionPolicy\":\"Retain\"},"
	    "\"refreshInterval\":\"bad\"}");
	cJSON *d = cJSON_Parse("{\"target\":{\"deletionPolicy\":7}}");

	ck_assert_int_eq(spec_deletion_policy(r), DELETE_RETAIN);
	ck_assert_int_eq(spec_deletion_policy(d), DELETE_DELETE);
	ck_assert_int_eq(spec_deletion_policy(NULL), DELETE_DELETE);
	cJSON_Delete(r);
	cJSON_Delete(d);
}
END_TEST

START_TEST(store_spec_checks)
{
	const char *reason;
	char msg[512];
	struct store_spec s;
	cJSON *j = cJSON_Parse("{\"provider\":{\"monoforPAM\":{\"url\":\"ftp://x\",\"auth\":"
	    "{\"accessKeySecretRef\":{\"name\":\"k\",\"key\":\"key\"}}}}}");

	ck_assert_int_eq(spec_store_parse(j, &s, &reason, msg, sizeof(msg)), -1);
	ck_assert_ptr_nonnull(strstr(msg, "spec.provider.monoforPAM.url"));
	cJSON_Delete(j);
	j = cJSON_Parse("{\"provider\":{\"monoforPAM\":{\"url\":\"https://pam.example\",\"auth\":"
	    "{\"accessKeySecretRef\":{\"name\":\"k\",\"key\":\"key\"}}}}}");
	ck_assert_int_eq(spec_store_parse(j, &s, &reason, msg, sizeof(msg)), 0);
	ck_assert_ptr_null(s.key_ns);   /* defaults to the MonoStore's namespace */
	cJSON_Delete(j);
}
END_TEST

Suite *spec_suite(void)
{
	Suite *s = suite_create("spec");
	TCase *tc = tcase_create("spec");

	tcase_add_test(tc, accepts_seed_example);
	tcase_add_test(tc, refresh_zero_means_never);
	tcase_add_test(tc, bad_refresh_names_field);
	tcase_add_test(tc, bad_key_and_vault_name_field);
	tcase_add_test(tc, duplicate_keys_refused);
	tcase_add_test(tc, service_account_token_refused);
	tcase_add_test(tc, rollout_kinds_and_reserved_annotations);
	tcase_add_test(tc, operator_marks_refused_in_template);
	tcase_add_test(tc, lenient_deletion_policy);
	tcase_add_test(tc, store_spec_checks);
	suite_add_tcase(s, tc);
	return s;
}
