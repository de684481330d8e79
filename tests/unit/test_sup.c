/*
 * sup: resourceVersion ordering, used to tell the watch event of a
 * job's own earlier write from somebody's later edit.
 */
#include "sup.h"
#include "suites.h"

START_TEST(rv_older_only_when_known)
{
	ck_assert(sup_rv_older("99", "100"));
	ck_assert(sup_rv_older("1234", "1235"));
	ck_assert(!sup_rv_older("1235", "1234"));
	ck_assert(!sup_rv_older("100", "100"));
	ck_assert(!sup_rv_older("100", "99"));
	/* not plain decimals: no order is claimed */
	ck_assert(!sup_rv_older("", "5"));
	ck_assert(!sup_rv_older("5", ""));
	ck_assert(!sup_rv_older("abc", "abd"));
	ck_assert(!sup_rv_older("007", "8"));
	ck_assert(!sup_rv_older("1e3", "2000"));
}
END_TEST

Suite *sup_suite(void)
{
	Suite *s = suite_create("sup");
	TCase *tc = tcase_create("sup");

	tcase_add_test(tc, rv_older_only_when_known);
	suite_add_tcase(s, tc);
	return s;
}
