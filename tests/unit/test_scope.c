/*
 * scope: --namespaces parsing (names go into request paths unescaped,
 * so anything that is not a namespace name is refused) and the
 * collection paths the informers use in each mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scope.h"
#include "suites.h"

START_TEST(empty_means_whole_cluster)
{
	struct scope s;
	char err[200] = "";

	ck_assert_int_eq(scope_parse("", &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(scope_parse(NULL, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

START_TEST(list_in_order_without_duplicates)
{
	struct scope s;
	char err[200] = "";

	ck_assert_int_eq(scope_parse("team-a,b2,team-a,c", &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.ns[0], "team-a");
	ck_assert_str_eq(s.ns[1], "b2");
	ck_assert_str_eq(s.ns[2], "c");
	scope_free(&s);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

START_TEST(bad_names_are_refused_by_name)
{
	static const char *const bad[] = {
		"a,,b", "a,", ",a", "Team", "a/b", "a b", "-a", "a-", "a?watch=1",
		"../secrets", "a%2fb",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
	};
	struct scope s;
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(scope_parse(bad[i], &s, err, sizeof(err)) == -1, "accepted %s", bad[i]);
		ck_assert_int_eq(s.n, 0);
		ck_assert_msg(strncmp(err, "--namespaces: ", 14) == 0, "error \"%s\"", err);
	}
	ck_assert_int_eq(scope_parse("ok,Bad", &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "\"Bad\""));
}
END_TEST

START_TEST(too_many_namespaces)
{
	char list[SCOPE_MAX_NS * 8 + 16] = "", err[200];
	struct scope s;
	size_t len = 0;

	for (int i = 0; i <= SCOPE_MAX_NS; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%sn%d", i ? "," : "", i);
	ck_assert_int_eq(scope_parse(list, &s, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than"));
	list[strlen(list) - strlen(",n64")] = '\0';
	ck_assert_int_eq(scope_parse(list, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.n, SCOPE_MAX_NS);
	scope_free(&s);
}
END_TEST

START_TEST(paths_per_mode)
{
	char *p = scope_path("/api/v1", NULL, "secrets");

	ck_assert_str_eq(p, "/api/v1/secrets");
	free(p);
	p = scope_path("/apis/pam.monofor.com/v1alpha1", "team-a", "monosecrets");
	ck_assert_str_eq(p, "/apis/pam.monofor.com/v1alpha1/namespaces/team-a/monosecrets");
	free(p);
}
END_TEST

Suite *scope_suite(void)
{
	Suite *s = suite_create("scope");
	TCase *tc = tcase_create("scope");

	tcase_add_test(tc, empty_means_whole_cluster);
	tcase_add_test(tc, list_in_order_without_duplicates);
	tcase_add_test(tc, bad_names_are_refused_by_name);
	tcase_add_test(tc, too_many_namespaces);
	tcase_add_test(tc, paths_per_mode);
	suite_add_tcase(s, tc);
	return s;
}
