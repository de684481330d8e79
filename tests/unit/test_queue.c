/*
 * queue: de-duplication, never two jobs for one key, due times.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "queue.h"
#include "suites.h"

START_TEST(dedups_and_orders_by_due)
{
	struct queue q = { 0 };

	queue_add(&q, "b", 20);
	queue_add(&q, "a", 10);
	queue_add(&q, "a", 30);   /* later add never delays */
	ck_assert_uint_eq(queue_len(&q), 2);
	ck_assert_ptr_null(queue_pop(&q, 5));
	ck_assert_str_eq(queue_pop(&q, 100), "a");
	ck_assert_str_eq(queue_pop(&q, 100), "b");
	ck_assert_ptr_null(queue_pop(&q, 100));
	queue_done(&q, "a");
	queue_done(&q, "b");
	ck_assert_int_eq(queue_next_due(&q), INT64_MAX);
	queue_free(&q);
}
END_TEST

START_TEST(in_flight_key_runs_again_after_done)
{
	struct queue q = { 0 };

	queue_add(&q, "k", 0);
	ck_assert_str_eq(queue_pop(&q, 0), "k");
	queue_add(&q, "k", 0);    /* an event while the job runs */
	ck_assert_ptr_null(queue_pop(&q, 1000));   /* not twice at once */
	ck_assert(queue_in_flight(&q, "k"));
	queue_done(&q, "k");
	ck_assert_str_eq(queue_pop(&q, 1000), "k");
	queue_done(&q, "k");
	queue_free(&q);
}
END_TEST

START_TEST(earlier_add_moves_due_forward)
{
	struct queue q = { 0 };

	queue_add(&q, "k", 3600000);   /* a refresh an hour away */
	queue_add(&q, "k", 5);         /* drift noticed */
	ck_assert_int_eq(queue_next_due(&q), 5);
	ck_assert_str_eq(queue_pop(&q, 5), "k");
	queue_done(&q, "k");
	queue_free(&q);
}
END_TEST

START_TEST(forget_drops_key)
{
	struct queue q = { 0 };

	queue_add(&q, "x", 0);
	queue_forget(&q, "x");
	ck_assert_ptr_null(queue_pop(&q, 10));
	ck_assert_uint_eq(queue_len(&q), 0);
	queue_free(&q);
}
END_TEST

START_TEST(heap_holds_many)
{
	struct queue q = { 0 };
	char key[32];

	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		queue_add(&q, key, (i * 7919) % 20000);
	}
	int64_t last = -1;
	for (int i = 0; i < 20000; i++) {
		int64_t due = queue_next_due(&q);
		const char *k = queue_pop(&q, INT64_MAX - 1);
		ck_assert_ptr_nonnull(k);
		ck_assert_int_ge(due, last);
		last = due;
		snprintf(key, sizeof(key), "%s", k);
		queue_done(&q, key);
	}
	ck_assert_uint_eq(queue_len(&q), 0);
	queue_free(&q);
}
END_TEST

START_TEST(due_count_leaves_out_timers_and_jobs)
{
	struct queue q = { 0 };
	char k[16];

	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		queue_add(&q, k, i % 4 == 0 ? 50 : 3600000);   /* 25 due soon, 75 refreshes */
	}
	ck_assert_uint_eq(queue_due_count(&q, 10), 0);
	ck_assert_uint_eq(queue_due_count(&q, 50), 25);
	ck_assert_str_eq(queue_pop(&q, 50), "k0");        /* in flight: not waiting */
	ck_assert_uint_eq(queue_due_count(&q, 50), 24);
	ck_assert_uint_eq(queue_len(&q), 99);
	ck_assert_uint_eq(queue_due_count(&q, 3600000), 99);
	queue_free(&q);
}
END_TEST

Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");

	tcase_add_test(tc, dedups_and_orders_by_due);
	tcase_add_test(tc, in_flight_key_runs_again_after_done);
	tcase_add_test(tc, earlier_add_moves_due_forward);
	tcase_add_test(tc, forget_drops_key);
	tcase_add_test(tc, due_count_leaves_out_timers_and_jobs);
	tcase_add_test(tc, heap_holds_many);
	suite_add_tcase(s, tc);
	return s;
}
