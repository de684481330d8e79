/*
 * resolve: the supervisor's side (which hosts need a lookup, the
 * CURLOPT_RESOLVE line it builds) and the worker's side (which lines it
 * accepts). A sandboxed worker that gets a wrong line cannot reach PAM.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "job.h"
#include "suites.h"
#include "sup.h"

START_TEST(url_host_names_and_literals)
{
	char host[256];
	long port;

	ck_assert_int_eq(resolve_url_host("https://pam.example.test/base", host, sizeof(host),
	    &port), 0);
	ck_assert_str_eq(host, "pam.example.test");
	ck_assert_int_eq(port, 443);
	ck_assert_int_eq(resolve_url_host("http://pam:8080", host, sizeof(host), &port), 0);
	ck_assert_int_eq(port, 8080);
	ck_assert_int_eq(resolve_url_host("https://10.1.2.3:9443/x", host, sizeof(host),
	    &port), 1);
	ck_assert_int_eq(resolve_url_host("https://[::1]:9443", host, sizeof(host), &port), 1);
	ck_assert_str_eq(host, "[::1]");
	ck_assert_int_eq(resolve_url_host("not a url", host, sizeof(host), &port), -1);
	ck_assert_int_eq(resolve_url_host("https://pam.example.test", host, 4, &port), -1);
}
END_TEST

/* ai - one addrinfo node for the list resolve_format walks. */
static struct addrinfo *ai(struct addrinfo *next, int fam, const char *addr)
{
	struct addrinfo *a = calloc(1, sizeof(*a));
	struct sockaddr_in6 *s6 = calloc(1, sizeof(*s6));

	a->ai_family = fam;
	a->ai_addr = (struct sockaddr *)s6;
	if (fam == AF_INET)
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)(void *)s6)->sin_addr);
	else
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
	a->ai_next = next;
	return a;
}

START_TEST(format_lists_each_address_once)
{
	struct addrinfo *l = ai(ai(ai(ai(NULL, AF_INET, "10.0.0.2"), AF_INET6, "fd00::1"),
	    AF_INET, "10.0.0.1"), AF_INET, "10.0.0.1");
	char out[256];

	ck_assert_int_eq((int)resolve_format(l, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "10.0.0.1,[fd00::1],10.0.0.2");
	ck_assert_int_eq((int)resolve_format(l, out, 12), 1);   /* what fits */
	ck_assert_str_eq(out, "10.0.0.1");
	while (l) {
		struct addrinfo *n = l->ai_next;
		free(l->ai_addr);
		free(l);
		l = n;
	}
}
END_TEST

START_TEST(line_for_a_literal_and_a_name)
{
	char line[800], err[300];
	int rc;

	ck_assert_int_eq(resolve_line("https://127.0.0.1:8443", line, sizeof(line), err,
	    sizeof(err)), RESOLVE_OK);
	ck_assert_str_eq(line, "");
	ck_assert_int_eq(resolve_line("::nonsense", line, sizeof(line), err, sizeof(err)),
	    RESOLVE_FAILED);
	/* "localhost" comes from /etc/hosts: no query leaves the machine. */
	ck_assert_int_eq(resolve_start(), 0);
	for (int i = 0; (rc = resolve_line("https://localhost:8443/", line, sizeof(line), err,
	    sizeof(err))) == RESOLVE_PENDING && i < 500; i++)
		usleep(10000);
	ck_assert_int_eq(rc, RESOLVE_OK);
	ck_assert_msg(strncmp(line, "localhost:8443:", 15) == 0 &&
	    (strstr(line, "127.0.0.1") || strstr(line, "[::1]")), "line %s", line);
	resolve_stop();
}
END_TEST

START_TEST(worker_accepts_only_resolve_lines)
{
	char err[128];
	struct curl_slist *l = job_resolve_list("pam.example.test:443:10.0.0.1,[fd00::1]\n"
	    "api:6443:10.0.0.9\n", err, sizeof(err));

	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l->data, "pam.example.test:443:10.0.0.1,[fd00::1]");
	ck_assert_str_eq(l->next->data, "api:6443:10.0.0.9");
	ck_assert_ptr_null(l->next->next);
	curl_slist_free_all(l);
	ck_assert_ptr_null(job_resolve_list("pam:443:10.0.0.1 ; rm", err, sizeof(err)));
	/* a leading '-' would tell curl to forget an entry */
	ck_assert_ptr_null(job_resolve_list("-pam:443:10.0.0.1\n", err, sizeof(err)));
	ck_assert_ptr_null(job_resolve_list("pam443", err, sizeof(err)));
	ck_assert_ptr_null(job_resolve_list("", err, sizeof(err)));
	ck_assert_ptr_null(job_resolve_list(":443:10.0.0.1", err, sizeof(err)));
}
END_TEST

Suite *resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("resolve");

	tcase_add_test(tc, url_host_names_and_literals);
	tcase_add_test(tc, format_lists_each_address_once);
	tcase_add_test(tc, line_for_a_literal_and_a_name);
	tcase_add_test(tc, worker_accepts_only_resolve_lines);
	suite_add_tcase(s, tc);
	return s;
}
