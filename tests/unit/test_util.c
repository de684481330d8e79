/*
 * test_util - allocation, bounded file reads, RFC 3339, clocks, SHA-256
 * and base64 (RFC 4648 test vectors, strict rejection).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UTIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UTIL_ASAN 1
#endif
#endif

/* tmp_with - a temporary file holding n bytes of data; returns its path. */
static char *
tmp_with(const void *data, size_t n)
{
	char *path = util_xstrdup("/tmp/pamop-util-XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
	return path;
}

START_TEST(test_alloc)
{
	char *s, *big;
	int *z;
	size_t i;

	s = util_strdup_printf("%s-%d-%05.1f", "x", 42, 3.25);
	ck_assert_str_eq(s, "x-42-003.2");
	free(s);

	/* Longer than any internal first guess would be. */
	big = util_xmalloc(10001);
	memset(big, 'q', 10000);
	big[10000] = '\0';
	s = util_strdup_printf("<%s>", big);
	ck_assert_uint_eq(strlen(s), 10002);
	ck_assert(s[0] == '<' && s[10001] == '>');
	free(s);
	free(big);

	s = util_xstrdup("");
	ck_assert_str_eq(s, "");
	free(s);

	z = util_xcalloc(100, sizeof(*z));
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(z[i], 0);
	z = util_xrealloc(z, 1000 * sizeof(*z));
	z[999] = 1;
	free(z);
	free(util_xmalloc(0));
	free(util_xcalloc(0, 0));
	util_wipe_free(NULL);
	util_wipe_free(util_xstrdup("gone"));
}
END_TEST

#ifndef UTIL_ASAN
/* An impossible allocation aborts (ASan would report it instead). */
START_TEST(test_oom)
{
	/* Keep the expected log line out of the test output. */
	int fd = open("/dev/null", O_WRONLY);

	dup2(fd, STDERR_FILENO);
	free(util_xmalloc(SIZE_MAX - 64));
}
END_TEST
#endif

START_TEST(test_read_file)
{
	char *path, *out = NULL;
	size_t len = 99;
	static const char data[] = "line one\nline\0two\n";

	path = tmp_with(data, sizeof(data) - 1);
	ck_assert_int_eq(util_read_file(path, &out, &len, 1024), 0);
	ck_assert_uint_eq(len, sizeof(data) - 1);
	ck_assert(memcmp(out, data, len) == 0);
	ck_assert_int_eq(out[len], '\0');
	free(out);

	/* Exactly max bytes is fine, one more is EFBIG. */
	ck_assert_int_eq(util_read_file(path, &out, NULL, len), 0);
	free(out);
	errno = 0;
	ck_assert_int_eq(util_read_file(path, &out, &len, len - 1), -1);
	ck_assert_int_eq(errno, EFBIG);
	unlink(path);
	free(path);

	path = tmp_with("", 0);
	ck_assert_int_eq(util_read_file(path, &out, &len, 0), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(out, "");
	free(out);
	unlink(path);
	free(path);

	errno = 0;
	ck_assert_int_eq(util_read_file("/nonexistent/x", &out, &len, 10), -1);
	ck_assert_int_eq(errno, ENOENT);
	errno = 0;
	ck_assert_int_eq(util_read_file("/tmp", &out, &len, 10), -1);
	ck_assert_int_eq(errno, EISDIR);

	/* /proc files report size 0; the loop must read and bound them. */
	ck_assert_int_eq(util_read_file("/proc/self/status", &out, &len,
	    1 << 20), 0);
	ck_assert_ptr_nonnull(strstr(out, "Name:"));
	ck_assert_uint_eq(strlen(out), len);
	free(out);
	errno = 0;
	ck_assert_int_eq(util_read_file("/proc/self/status", &out, &len, 10),
	    -1);
	ck_assert_int_eq(errno, EFBIG);
}
END_TEST

/*
 * A FIFO has no size to go by, so the buffer starts small and must grow
 * many times; a child process writes the data.
 */
START_TEST(test_read_file_grow)
{
	static char data[100000];
	char dir[] = "/tmp/pamop-util-XXXXXX", *fifo, *out;
	size_t len, i;
	pid_t pid;
	int fd;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	fifo = util_strdup_printf("%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fd = open(fifo, O_WRONLY);
		_exit(fd >= 0 && write(fd, data, sizeof(data)) ==
		    (ssize_t)sizeof(data) ? 0 : 1);
	}
	ck_assert_int_eq(util_read_file(fifo, &out, &len, sizeof(data)), 0);
	ck_assert_uint_eq(len, sizeof(data));
	ck_assert(memcmp(out, data, len) == 0);
	free(out);
	waitpid(pid, NULL, 0);
	unlink(fifo);
	rmdir(dir);
	free(fifo);
}
END_TEST

START_TEST(test_rfc3339)
{
	char buf[32];
	time_t t;

	util_rfc3339(0, buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	util_rfc3339(1796397968, buf);
	ck_assert_str_eq(buf, "2026-12-04T15:26:08Z");

	ck_assert_int_eq(util_parse_rfc3339("2026-12-04T15:26:08Z", &t), 0);
	ck_assert_int_eq((long long)t, 1796397968LL);
	ck_assert_int_eq(util_parse_rfc3339("2026-12-04t15:26:08.999z", &t),
	    0);
	ck_assert_int_eq((long long)t, 1796397968LL);
	ck_assert_int_eq(util_parse_rfc3339("2026-12-04T15:26:08+05:30", &t),
	    0);
	ck_assert_int_eq((long long)t, 1796378168LL);
	ck_assert_int_eq(util_parse_rfc3339("2024-02-29T23:59:59.5-01:00",
	    &t), 0);
	ck_assert_int_eq((long long)t, 1709254799LL);
	ck_assert_int_eq(util_parse_rfc3339("1969-12-31T23:59:59Z", &t), 0);
	ck_assert_int_eq((long long)t, -1LL);
	ck_assert_int_eq(util_parse_rfc3339("9999-12-31T23:59:59Z", &t), 0);
	ck_assert_int_eq((long long)t, 253402300799LL);
}
END_TEST

/* Strings that are not RFC 3339 timestamps. */
START_TEST(test_rfc3339_bad)
{
	static const char *const bad[] = {
		"", "2026-12-04", "2026-12-04T15:26:08", "2026-12-04 15:26:08Z",
		"2026-12-04T15:26:08.Z", "2026-12-04T15:26:08ZZ",
		"2026-12-04T15:26:08 ", "2026-13-04T15:26:08Z",
		"2026-00-04T15:26:08Z", "2026-12-00T15:26:08Z",
		"2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-12-04T24:00:00Z",
		"2026-12-04T15:60:08Z", "2026-12-04T15:26:60Z",
		"2026-12-04T15:26:08+0530", "2026-12-04T15:26:08+24:00",
		"2026-12-04T15:26:08+05:60", "2026-12-04T15:26:08+05:3",
		"26-12-04T15:26:08Z", "2026-1-04T15:26:08Z", "+026-12-04T15:26:08Z",
		"2026-12-04T15:26:08UTC",
	};
	size_t i;
	time_t t;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(util_parse_rfc3339(bad[i], &t) == -1,
		    "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(util_parse_rfc3339(NULL, &t), -1);
	ck_assert_int_eq(util_parse_rfc3339("2000-02-29T00:00:00Z", &t), 0);
}
END_TEST

START_TEST(test_clocks)
{
	int64_t a, b;

	/* After 2024-01-01 and before 2100: the unit is milliseconds. */
	a = util_now_ms();
	ck_assert(a > 1704067200000LL && a < 4102444800000LL);
	a = util_mono_ms();
	usleep(20000);
	b = util_mono_ms();
	ck_assert(b - a >= 19 && b - a < 5000);
}
END_TEST

START_TEST(test_sha256)
{
	char hex[65];

	util_sha256_hex("", 0, hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	util_sha256_hex("abc", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}
END_TEST

/* RFC 4648 section 10 vectors, both directions. */
START_TEST(test_b64_vectors)
{
	static const char *const plain[] = {
		"", "f", "fo", "foo", "foob", "fooba", "foobar",
	};
	static const char *const enc[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy",
	};
	unsigned char *out;
	size_t i, len;
	char *e;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		e = util_b64_encode(plain[i], strlen(plain[i]));
		ck_assert_str_eq(e, enc[i]);
		free(e);
		ck_assert_int_eq(util_b64_decode(enc[i], &out, &len), 0);
		ck_assert_uint_eq(len, strlen(plain[i]));
		ck_assert_str_eq((char *)out, plain[i]);
		free(out);
	}
}
END_TEST

/* Every byte value survives a round trip; '+' and '/' appear. */
START_TEST(test_b64_binary)
{
	unsigned char bin[256], *out;
	size_t i, len;
	char *e;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(255 - i);
	e = util_b64_encode(bin, sizeof(bin));
	ck_assert_ptr_nonnull(strchr(e, '+'));
	ck_assert_ptr_nonnull(strchr(e, '/'));
	ck_assert_int_eq(util_b64_decode(e, &out, &len), 0);
	ck_assert_uint_eq(len, sizeof(bin));
	ck_assert(memcmp(out, bin, len) == 0);
	free(out);
	free(e);
}
END_TEST

/* Garbage, missing padding, URL-safe letters and stray bits fail. */
START_TEST(test_b64_reject)
{
	static const char *const bad[] = {
		"Zg", "Zg=", "Zm8", "Zg===", "Zm9v!", "Zm9v\n", " Zm9v",
		"Zm9v ", "Zh==", "Zm9=", "Z===", "Zm9vYmFy====", "=", "====",
		"-_-_", "Zm 9v", "Zg==Zg==",
	};
	unsigned char *out = NULL;
	size_t i, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(util_b64_decode(bad[i], &out, &len) == -1,
		    "accepted \"%s\"", bad[i]);
	ck_assert_ptr_null(out);
}
END_TEST

/* util_suite - registered by tests/unit/main.c. */
Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_test(tc, test_alloc);
#ifndef UTIL_ASAN
	tcase_add_test_raise_signal(tc, test_oom, SIGABRT);
#endif
	tcase_add_test(tc, test_read_file);
	tcase_add_test(tc, test_read_file_grow);
	tcase_add_test(tc, test_rfc3339);
	tcase_add_test(tc, test_rfc3339_bad);
	tcase_add_test(tc, test_clocks);
	tcase_add_test(tc, test_sha256);
	tcase_add_test(tc, test_b64_vectors);
	tcase_add_test(tc, test_b64_binary);
	tcase_add_test(tc, test_b64_reject);
	suite_add_tcase(s, tc);
	return s;
}
