/* suites - every unit-test suite, for the runner in main.c. */
#ifndef PAMOP_TEST_SUITES_H
#define PAMOP_TEST_SUITES_H

#include <check.h>

Suite *duration_suite(void);
Suite *kubeconfig_suite(void);
Suite *log_suite(void);
Suite *util_suite(void);
Suite *pam_api_suite(void);
Suite *totp_suite(void);
Suite *proto_suite(void);
Suite *queue_suite(void);
Suite *spec_suite(void);
Suite *datamap_suite(void);
Suite *scope_suite(void);
Suite *rollout_suite(void);
Suite *ratelimit_suite(void);
Suite *kube_classify_suite(void);
Suite *metrics_suite(void);
Suite *sandbox_suite(void);
Suite *resolve_suite(void);
Suite *sup_suite(void);

#endif
