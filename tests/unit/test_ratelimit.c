/*
 * ratelimit: the API token bucket lets a burst through, then the rate;
 * a debt (requests charged after the fact) delays what follows.
 */
#include "ratelimit.h"
#include "suites.h"

START_TEST(burst_then_rate)
{
	struct ratelimit r;

	rl_init(&r, 10, 3, 1000);
	ck_assert_int_eq(rl_reserve(&r, 1, 1000), 0);
	ck_assert_int_eq(rl_reserve(&r, 1, 1000), 0);
	ck_assert_int_eq(rl_reserve(&r, 1, 1000), 0);
	/* the fourth at the same instant waits one interval (100 ms at 10/s) */
	ck_assert_int_eq(rl_reserve(&r, 1, 1000), 100);
	/* and the fifth one more */
	ck_assert_int_eq(rl_reserve(&r, 1, 1000), 200);
	/* 300 ms later the debt is paid and one token is back */
	ck_assert_int_eq(rl_ready_in(&r, 1, 1300), 0);
	ck_assert_int_eq(rl_reserve(&r, 1, 1300), 0);
}
END_TEST

START_TEST(refill_stops_at_burst)
{
	struct ratelimit r;

	rl_init(&r, 5, 2, 0);
	ck_assert_int_eq(rl_ready_in(&r, 1, 60000), 0);   /* a minute idle */
	ck_assert_int_eq(rl_reserve(&r, 1, 60000), 0);
	ck_assert_int_eq(rl_reserve(&r, 1, 60000), 0);
	ck_assert_int_eq(rl_reserve(&r, 1, 60000), 200);  /* not 300 tokens saved up */
}
END_TEST

START_TEST(debt_delays_the_next)
{
	struct ratelimit r;

	rl_init(&r, 20, 5, 0);
	rl_reserve(&r, 1, 0);
	rl_reserve(&r, 14, 0);   /* a worker reported 14 more: balance -10 */
	ck_assert_int_eq(rl_ready_in(&r, 1, 0), 550);   /* 11 tokens at 20/s */
	ck_assert_int_gt(rl_ready_in(&r, 1, 549), 0);
	ck_assert_int_eq(rl_ready_in(&r, 1, 550), 0);
	/* asking about more than a burst waits for a full bucket, not forever */
	ck_assert_int_eq(rl_ready_in(&r, 100, 550), 200);
}
END_TEST

START_TEST(zero_qps_is_unlimited)
{
	struct ratelimit r;

	rl_init(&r, 0, 1, 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(rl_reserve(&r, 1, 0), 0);
	ck_assert_int_eq(rl_ready_in(&r, 1, 0), 0);
}
END_TEST

Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");

	tcase_add_test(tc, burst_then_rate);
	tcase_add_test(tc, refill_stops_at_burst);
	tcase_add_test(tc, debt_delays_the_next);
	tcase_add_test(tc, zero_qps_is_unlimited);
	suite_add_tcase(s, tc);
	return s;
}
