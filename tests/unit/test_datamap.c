/*
 * datamap: the data hash is order-independent, keyed by the access key,
 * and changes with any byte of any value; base64 is byte-exact.
 */
#include <string.h>

#include "datamap.h"
#include "suites.h"

static void put(struct datamap *m, const char *k, const char *v, size_t len)
{
	struct secret s = { 0 };

	ck_assert_int_eq(secret_set(&s, v, len), 0);
	ck_assert_int_eq(dm_put(m, k, &s), 0);
	secret_free(&s);
}

START_TEST(hash_is_stable_and_sensitive)
{
	struct datamap a = { 0 }, b = { 0 }, c = { 0 };
	struct secret key = { 0 }, key2 = { 0 };
	char ha[65], hb[65], hc[65], hk[65];

	secret_set(&key, "access-key", 10);
	secret_set(&key2, "other-key", 9);
	put(&a, "user", "app", 3);
	put(&a, "pass", "pw", 2);
	put(&b, "pass", "pw", 2);
	put(&b, "user", "app", 3);
	put(&c, "user", "app", 3);
	put(&c, "pass", "pX", 2);
	dm_sort(&a);
	dm_sort(&b);
	dm_sort(&c);
	dm_hash(&a, &key, ha);
	dm_hash(&b, &key, hb);
	dm_hash(&c, &key, hc);
	dm_hash(&a, &key2, hk);
	ck_assert_str_eq(ha, hb);
	ck_assert_str_ne(ha, hc);
	ck_assert_str_ne(ha, hk);
	ck_assert_uint_eq(strlen(ha), 64);
	dm_free(&a); dm_free(&b); dm_free(&c);
	secret_free(&key); secret_free(&key2);
}
END_TEST

START_TEST(b64_byte_exact)
{
	struct secret v = { 0 }, out = { 0 };
	const char raw[] = "line1\nline2\0tail\xc3\xa9";

	secret_set(&v, raw, sizeof(raw) - 1);
	ck_assert_int_eq(dm_b64(&v, &out), 0);
	secret_open(&out);
	ck_assert_str_eq((const char *)out.buf, "bGluZTEKbGluZTIAdGFpbMOp");
	secret_close(&out);
	secret_free(&v);
	secret_free(&out);
}
END_TEST

START_TEST(put_replaces_value)
{
	struct datamap m = { 0 };

	put(&m, "k", "one", 3);
	put(&m, "k", "two!", 4);
	ck_assert_uint_eq(m.n, 1);
	const struct dm_entry *e = dm_get(&m, "k");
	secret_open(&e->val);
	ck_assert_mem_eq(e->val.buf, "two!", 4);
	secret_close(&e->val);
	dm_free(&m);
}
END_TEST

Suite *datamap_suite(void)
{
	Suite *s = suite_create("datamap");
	TCase *tc = tcase_create("datamap");

	tcase_add_test(tc, hash_is_stable_and_sensitive);
	tcase_add_test(tc, b64_byte_exact);
	tcase_add_test(tc, put_replaces_value);
	suite_add_tcase(s, tc);
	return s;
}
