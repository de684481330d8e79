/*
 * test_pam_api - the PAM client's parsing, validation and tables, without
 * a network: every vault type, byte-exact values, and every way a body
 * can be wrong.
 */
#include <check.h>
#include <string.h>

#include "../../worker/pam_api.h"

/* parse - pam_parse_item on a C string; returns its result code. */
static int parse(const char *body, struct pam_item *it, struct pam_result *r)
{
	return pam_parse_item(body, strlen(body), it, r);
}

/* value_is - the property exists and equals want (wlen bytes) exactly. */
static int value_is(const struct pam_item *it, const char *name,
		    const char *want, size_t wlen)
{
	const struct secret *s = pam_item_get(it, name);
	int ok;

	if (!s || !s->buf)
		return 0;
	secret_open(s);
	ok = s->len == wlen && memcmp(s->buf, want, wlen) == 0 &&
	     s->buf[wlen] == '\0';
	secret_close(s);
	return ok;
}

#define VALUE_IS(it, n, lit) value_is(it, n, lit, sizeof(lit) - 1)

/* bad - body must be refused as PAM_BAD_RESPONSE, leaving no props. */
static void bad(const char *body, const char *msg_has)
{
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(parse(body, &it, &r), -1);
	ck_assert_int_eq(r.status, PAM_BAD_RESPONSE);
	ck_assert_int_eq(it.nprops, 0);
	if (msg_has)
		ck_assert_msg(strstr(r.message, msg_has), "message '%s' lacks "
			      "'%s'", r.message, msg_has);
	pam_item_free(&it);
}

START_TEST(type_secret_text)
{
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(parse("{\"id\":\"a1\",\"type\":\"SecretText\","
			       "\"properties\":{\"SecretText\":\"t0p\"}}",
			       &it, &r), 0);
	ck_assert_int_eq(r.status, PAM_OK);
	ck_assert_str_eq(it.type, "SecretText");
	ck_assert_int_eq(it.nprops, 1);
	ck_assert(VALUE_IS(&it, "SecretText", "t0p"));
	ck_assert_int_eq(it.valid_for, 0);
	pam_item_free(&it);
	ck_assert_int_eq(it.nprops, 0);
}
END_TEST

START_TEST(type_user_password)
{
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(parse("{\"type\":\"UserNamePassword\",\"properties\":"
			       "{\"UserName\":\"app\",\"Password\":\"s3cret\"}}",
			       &it, &r), 0);
	ck_assert_int_eq(it.nprops, 2);
	ck_assert(VALUE_IS(&it, "UserName", "app"));
	ck_assert(VALUE_IS(&it, "Password", "s3cret"));
	ck_assert_ptr_null(pam_item_get(&it, "Domain"));
	pam_item_free(&it);
}
END_TEST

START_TEST(type_user_password_domain)
{
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(parse("{\"type\":\"UserNamePasswordDomain\","
			       "\"properties\":{\"Domain\":\"CORP\",\"UserName\""
			       ":\"svc\",\"Password\":\"p\"}}", &it, &r), 0);
	ck_assert_int_eq(it.nprops, 3);
	ck_assert(VALUE_IS(&it, "Domain", "CORP"));
	ck_assert(VALUE_IS(&it, "UserName", "svc"));
	ck_assert(VALUE_IS(&it, "Password", "p"));
	pam_item_free(&it);
}
END_TEST

/* type_pki - a multi-line PEM arrives with \n escapes, kept exactly. */
START_TEST(type_pki)
{
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(parse("{\"type\":\"PKI\",\"properties\":{\"UserName\":"
			       "\"root\",\"PrivateKey\":\"-----BEGIN PRIVATE KEY"
			       "-----\\nMIIBVQ==\\n-----END PRIVATE KEY-----\\n\","
			       "\"Passphrase\":\"\"}}", &it, &r), 0);
	ck_assert_int_eq(it.nprops, 3);
	ck_assert(VALUE_IS(&it, "PrivateKey", "-----BEGIN PRIVATE KEY-----\n"
			   "MIIBVQ==\n-----END PRIVATE KEY-----\n"));
	ck_assert(VALUE_IS(&it, "Passphrase", ""));
	ck_assert(VALUE_IS(&it, "UserName", "root"));
	pam_item_free(&it);
}
END_TEST

START_TEST(type_otp)
{
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(parse("{\"type\":\"OTP\",\"validForSeconds\":17,"
			       "\"properties\":{\"Code\":\"012345\"}}",
			       &it, &r), 0);
	ck_assert_int_eq(it.nprops, 1);
	ck_assert(VALUE_IS(&it, "Code", "012345"));
	ck_assert_int_eq(it.valid_for, 17);
	pam_item_free(&it);
}
END_TEST

/* values_byte_exact - UTF-8, \u escapes (with a surrogate pair), control
 * characters, quotes and backslashes all come out as the bytes meant. */
START_TEST(values_byte_exact)
{
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(parse("{\"type\":\"UserNamePasswordDomain\","
			       "\"properties\":{"
			       "\"UserName\":\"G\xc3\xbcnther "
			       "\\u00e7\\ud83d\\ude00\","
			       "\"Password\":\"a\\tb\\r\\nc\\b\\f"
			       "\\u0001\\\"\\\\/\\/\","
			       "\"Domain\":\"\"}}", &it, &r), 0);
	ck_assert(VALUE_IS(&it, "UserName",
			   "G\xc3\xbcnther \xc3\xa7\xf0\x9f\x98\x80"));
	ck_assert(VALUE_IS(&it, "Password", "a\tb\r\nc\b\f\x01\"\\//"));
	ck_assert(VALUE_IS(&it, "Domain", ""));
	pam_item_free(&it);
}
END_TEST

/* unlisted_ignored - names the type does not list are dropped, whatever
 * their JSON type, so vendor additions do not break a sync. */
START_TEST(unlisted_ignored)
{
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(parse("{\"type\":\"SecretText\",\"extra\":[1],"
			       "\"properties\":{\"Note\":\"x\",\"Meta\":{\"a\":1},"
			       "\"SecretText\":\"v\",\"Password\":\"y\"}}",
			       &it, &r), 0);
	ck_assert_int_eq(it.nprops, 1);
	ck_assert(VALUE_IS(&it, "SecretText", "v"));
	ck_assert_ptr_null(pam_item_get(&it, "Password"));
	pam_item_free(&it);
}
END_TEST

/* missing_listed - a listed property may be absent; callers report it. */
START_TEST(missing_listed)
{
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(parse("{\"type\":\"PKI\",\"properties\":{}}", &it,
			       &r), 0);
	ck_assert_int_eq(it.nprops, 0);
	pam_item_free(&it);
}
END_TEST

/* length_not_nul - the body need not be NUL-terminated. */
START_TEST(length_not_nul)
{
	static const char b[] = "{\"type\":\"SecretText\",\"properties\":"
				"{\"SecretText\":\"z\"}}GARBAGE";
	struct pam_item it;
	struct pam_result r;

	ck_assert_int_eq(pam_parse_item(b, sizeof(b) - 1 - 7, &it, &r), 0);
	ck_assert(VALUE_IS(&it, "SecretText", "z"));
	pam_item_free(&it);
}
END_TEST

START_TEST(malformed)
{
	bad("", "not valid JSON");
	bad("{\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"ab",
	    "not valid JSON");
	bad("{\"type\":\"Secr", "not valid JSON");
	bad("{'type':'SecretText'}", "not valid JSON");
	bad("{\"type\":\"SecretText\",\"properties\":{}} x", "trailing");
	bad("{\"type\":\"SecretText\",\"properties\":{}}{}", "trailing");
}
END_TEST

START_TEST(wrong_shapes)
{
	bad("[]", "not a JSON object");
	bad("\"SecretText\"", "not a JSON object");
	bad("null", "not a JSON object");
	bad("{}", "no string \"type\"");
	bad("{\"type\":5,\"properties\":{}}", "no string \"type\"");
	bad("{\"type\":\"OTP\"}", "no \"properties\"");
	bad("{\"type\":\"OTP\",\"properties\":[\"Code\"]}", "no \"properties\"");
	bad("{\"type\":\"OTP\",\"validForSeconds\":\"9\",\"properties\":{}}",
	    "validForSeconds");
	bad("{\"type\":\"OTP\",\"validForSeconds\":-1,\"properties\":{}}",
	    "validForSeconds");
}
END_TEST

START_TEST(unknown_type)
{
	bad("{\"type\":\"Certificate\",\"properties\":{}}",
	    "unknown vault type \"Certificate\"");
	bad("{\"type\":\"secrettext\",\"properties\":{}}", "\"secrettext\"");
	/* Server-chosen text is made printable before it reaches a message. */
	bad("{\"type\":\"a\\nb\\\"c\",\"properties\":{}}", "\"a?b?c\"");
}
END_TEST

/* non_string_property - listed names must hold strings; the message
 * names the property and type but never a value. */
START_TEST(non_string_property)
{
	struct pam_item it;
	struct pam_result r;

	bad("{\"type\":\"SecretText\",\"properties\":{\"SecretText\":42}}",
	    "property SecretText of vault type SecretText is not a string");
	bad("{\"type\":\"OTP\",\"properties\":{\"Code\":null}}", "Code");
	bad("{\"type\":\"PKI\",\"properties\":{\"PrivateKey\":{\"a\":\"b\"}}}",
	    "PrivateKey");
	bad("{\"type\":\"PKI\",\"properties\":{\"UserName\":[\"x\"]}}",
	    "UserName");
	ck_assert_int_eq(parse("{\"type\":\"UserNamePassword\",\"properties\":"
			       "{\"Password\":\"hunter2\",\"UserName\":true}}",
			       &it, &r), -1);
	ck_assert_ptr_null(strstr(r.message, "hunter2"));
	ck_assert_int_eq(it.nprops, 0);
	pam_item_free(&it);
}
END_TEST

/* nul_escape - cJSON would cut "a\u0000b" to "a": refuse instead, but
 * keep an escaped backslash followed by the text u0000. */
START_TEST(nul_escape)
{
	struct pam_item it;
	struct pam_result r;

	bad("{\"type\":\"SecretText\",\"properties\":{\"SecretText\":"
	    "\"a\\u0000b\"}}", "NUL");
	ck_assert_int_eq(parse("{\"type\":\"SecretText\",\"properties\":"
			       "{\"SecretText\":\"a\\\\u0000b\"}}", &it, &r),
			 0);
	ck_assert(VALUE_IS(&it, "SecretText", "a\\u0000b"));
	pam_item_free(&it);
}
END_TEST

START_TEST(duplicate_property)
{
	bad("{\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"a\","
	    "\"SecretText\":\"b\"}}", "twice");
}
END_TEST

START_TEST(type_table)
{
	const char *const *p = pam_type_properties("PKI");

	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p[0], "UserName");
	ck_assert_str_eq(p[1], "PrivateKey");
	ck_assert_str_eq(p[2], "Passphrase");
	ck_assert_ptr_null(p[3]);
	ck_assert_ptr_null(pam_type_properties("Nope"));
	ck_assert_ptr_null(pam_type_properties(NULL));
	ck_assert(pam_type_has_property("SecretText", "SecretText"));
	ck_assert(pam_type_has_property("UserNamePassword", "Password"));
	ck_assert(!pam_type_has_property("UserNamePassword", "Domain"));
	ck_assert(pam_type_has_property("UserNamePasswordDomain", "Domain"));
	ck_assert(pam_type_has_property("OTP", "Code"));
	ck_assert(!pam_type_has_property("OTP", "code"));
	ck_assert(!pam_type_has_property("Nope", "Code"));
	ck_assert(!pam_type_has_property("OTP", NULL));
}
END_TEST

START_TEST(vault_ids)
{
	ck_assert(pam_vault_id_valid("3f0c2a9e-1b2c-4d5e-8f90-0123456789AB"));
	ck_assert(pam_vault_id_valid("a"));
	ck_assert(pam_vault_id_valid("----"));
	ck_assert(!pam_vault_id_valid(""));
	ck_assert(!pam_vault_id_valid(NULL));
	ck_assert(!pam_vault_id_valid("../ping"));
	ck_assert(!pam_vault_id_valid("ab?x=1"));
	ck_assert(!pam_vault_id_valid("ab#c"));
	ck_assert(!pam_vault_id_valid("a b"));
	ck_assert(!pam_vault_id_valid("%2e%2e"));
	ck_assert(!pam_vault_id_valid("g"));
	ck_assert(pam_vault_id_valid("0123456789012345678901234567890123456789"
				     "012345678901234567890123"));
	ck_assert(!pam_vault_id_valid("0123456789012345678901234567890123456789"
				      "0123456789012345678901234"));
}
END_TEST

START_TEST(reasons)
{
	ck_assert_str_eq(pam_status_reason(PAM_UNAUTHORIZED), "PAMUnauthorized");
	ck_assert_str_eq(pam_status_reason(PAM_FORBIDDEN), "PAMForbidden");
	ck_assert_str_eq(pam_status_reason(PAM_NOT_FOUND), "VaultNotFound");
	ck_assert_str_eq(pam_status_reason(PAM_RATE_LIMITED), "PAMRateLimited");
	ck_assert_str_eq(pam_status_reason(PAM_SERVER_ERROR), "PAMServerError");
	ck_assert_str_eq(pam_status_reason(PAM_UNREACHABLE), "PAMUnreachable");
	ck_assert_str_eq(pam_status_reason(PAM_BAD_RESPONSE), "PAMBadResponse");
	ck_assert_str_eq(pam_status_reason(PAM_TOO_LARGE),
			 "PAMResponseTooLarge");
	ck_assert_str_eq(pam_status_reason(PAM_BAD_REQUEST), "PAMBadRequest");
}
END_TEST

/* refused_locally - bad ids, URLs and keys never reach the network
 * (the handle has no URL of its own, so a request would fail). */
START_TEST(refused_locally)
{
	struct secret key = { 0 }, badkey = { 0 }, blank = { 0 };
	struct pam_item it;
	struct pam_result r;
	CURL *h = curl_easy_init();

	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(secret_set(&key, "k", 1), 0);
	ck_assert_int_eq(secret_set(&badkey, "k\r\nX-Evil: 1", 12), 0);
	ck_assert_int_eq(secret_set(&blank, " \n", 2), 0);

	ck_assert_int_eq(pam_fetch(h, "https://127.0.0.1:1", &key, "../x",
				   &it, &r), -1);
	ck_assert_int_eq(r.status, PAM_BAD_REQUEST);
	ck_assert_int_eq(pam_fetch(h, "ftp://127.0.0.1:1", &key, "ab", &it,
				   &r), -1);
	ck_assert_int_eq(r.status, PAM_BAD_REQUEST);
	ck_assert_int_eq(pam_fetch(h, "https://127.0.0.1:1/?a=b", &key, "ab",
				   &it, &r), -1);
	ck_assert_int_eq(r.status, PAM_BAD_REQUEST);
	ck_assert_int_eq(pam_fetch(h, "https://127.0.0.1:1", &badkey, "ab",
				   &it, &r), -1);
	ck_assert_int_eq(r.status, PAM_BAD_REQUEST);
	ck_assert_ptr_null(strstr(r.message, "Evil"));
	ck_assert_int_eq(pam_ping(h, "https://127.0.0.1:1", &blank, &r), -1);
	ck_assert_int_eq(r.status, PAM_BAD_REQUEST);
	ck_assert_int_eq(pam_ping(h, "https://127.0.0.1:1", NULL, &r), -1);
	ck_assert_int_eq(r.status, PAM_BAD_REQUEST);
	ck_assert_int_eq(r.http_code, 0);

	secret_free(&key);
	secret_free(&badkey);
	secret_free(&blank);
	curl_easy_cleanup(h);
}
END_TEST

/* pam_api_suite - the PAM client cases. */
Suite *pam_api_suite(void)
{
	Suite *s = suite_create("pam_api");
	TCase *types = tcase_create("types");
	TCase *errors = tcase_create("errors");
	TCase *misc = tcase_create("misc");

	tcase_add_test(types, type_secret_text);
	tcase_add_test(types, type_user_password);
	tcase_add_test(types, type_user_password_domain);
	tcase_add_test(types, type_pki);
	tcase_add_test(types, type_otp);
	tcase_add_test(types, values_byte_exact);
	tcase_add_test(types, unlisted_ignored);
	tcase_add_test(types, missing_listed);
	tcase_add_test(types, length_not_nul);
	tcase_add_test(errors, malformed);
	tcase_add_test(errors, wrong_shapes);
	tcase_add_test(errors, unknown_type);
	tcase_add_test(errors, non_string_property);
	tcase_add_test(errors, duplicate_property);
	tcase_add_test(errors, nul_escape);
	tcase_add_test(misc, type_table);
	tcase_add_test(misc, vault_ids);
	tcase_add_test(misc, reasons);
	tcase_add_test(misc, refused_locally);
	suite_add_tcase(s, types);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, misc);
	return s;
}
