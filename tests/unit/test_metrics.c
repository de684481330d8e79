/*
 * metrics: what a worker reports becomes counters and histograms only
 * after it is checked, and the text format is what Prometheus expects
 * (cumulative buckets, _sum and _count, one TYPE line per family).
 */
#include <stdlib.h>
#include <string.h>

#include "sup.h"
#include "suites.h"

static bool has(const char *text, const char *line)
{
	char *want = NULL;
	bool ok;

	if (asprintf(&want, "\n%s\n", line) < 0)
		abort();
	ok = strstr(text, want) != NULL;
	free(want);
	return ok;
}

START_TEST(worker_tally_is_checked_and_counted)
{
	double n = metrics_worker_tally(
	    "201 1 35\n201 2 100\n418 1 5\nnot a line\n-1 1 1\n201 0 5\n",
	    "PUT secrets 200 1\nGET secrets 404 2\nput secrets 200 1\n"
	    "GET sec\"rets 200 1\nPATCH deployments 200 9999999\n");
	char *t = metrics_render();

	ck_assert(n == 3);
	ck_assert_msg(has(t, "pamop_pam_requests_total{code=\"201\"} 3"), "%s", t);
	ck_assert(has(t, "pamop_pam_requests_total{code=\"418\"} 1"));
	ck_assert(has(t, "pamop_kube_requests_total{verb=\"PUT\",resource=\"secrets\",code=\"200\"} 1"));
	ck_assert(has(t, "pamop_kube_requests_total{verb=\"GET\",resource=\"secrets\",code=\"404\"} 2"));
	ck_assert_ptr_null(strstr(t, "sec\"rets"));
	ck_assert_ptr_null(strstr(t, "\"deployments\""));
	/* 35 ms, then two of 50 ms on average: cumulative buckets */
	ck_assert(has(t, "pamop_pam_request_duration_seconds_bucket{code=\"201\",le=\"0.025\"} 0"));
	ck_assert(has(t, "pamop_pam_request_duration_seconds_bucket{code=\"201\",le=\"0.05\"} 3"));
	ck_assert(has(t, "pamop_pam_request_duration_seconds_bucket{code=\"201\",le=\"+Inf\"} 3"));
	ck_assert(has(t, "pamop_pam_request_duration_seconds_count{code=\"201\"} 3"));
	ck_assert(has(t, "pamop_pam_request_duration_seconds_sum{code=\"201\"} 0.13500000000000001"));
	free(t);
}
END_TEST

START_TEST(one_type_line_per_family)
{
	metrics_init();
	metrics_inc("pamop_rollouts_total", "kind=\"Deployment\",result=\"success\"", 2);
	metrics_inc("pamop_no_such_metric", NULL, 1);   /* unregistered: ignored */
	char *t = metrics_render();

	ck_assert(has(t, "# TYPE pamop_rollouts_total counter"));
	ck_assert(has(t, "pamop_rollouts_total{kind=\"Deployment\",result=\"success\"} 2"));
	ck_assert(has(t, "pamop_rollouts_total{kind=\"StatefulSet\",result=\"error\"} 0"));
	ck_assert_ptr_null(strstr(t, "pamop_no_such_metric"));
	const char *p = strstr(t, "# TYPE pamop_rollouts_total");
	ck_assert_ptr_null(strstr(p + 1, "# TYPE pamop_rollouts_total"));
	free(t);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, worker_tally_is_checked_and_counted);
	tcase_add_test(tc, one_type_line_per_family);
	suite_add_tcase(s, tc);
	return s;
}
