/* util/strutil — number <-> text conversions and glob matching with Redis's
 * exact rules (clients depend on which strings count as integers, and on how
 * floats are printed). All functions are pure; none allocates. */
#ifndef LARDER_UTIL_STRUTIL_H
#define LARDER_UTIL_STRUTIL_H
#include <stddef.h>
#include <stdint.h>

#define LONG_STR_SIZE 21 /* digits of LLONG_MIN plus NUL */
#define MAX_LONG_DOUBLE_CHARS 5 * 1024
#define MAX_D2STRING_CHARS 128

/* Strict base-10 integer: optional '-', no '+', no spaces, no leading zeros
 * (except "0"), no overflow. Returns 1 on success. */
int str_to_ll(const char *s, size_t len, long long *out);
int str_to_ull(const char *s, size_t len, unsigned long long *out);
/* Returns the number of bytes written (no NUL counted); dst has >= LONG_STR_SIZE. */
int ll_to_str(char *dst, long long v);
int ull_to_str(char *dst, unsigned long long v);
/* Digits needed to print v. */
int ll_digits(long long v);

/* strtod with Redis's rules: no leading space, whole string consumed, not NaN.
 * Accepts "inf", "-inf", "+inf". Returns 1 on success. */
int str_to_double(const char *s, size_t len, double *out);
int str_to_ldouble(const char *s, size_t len, long double *out);
/* "%.17g" with inf/-inf spelled as Redis does. Returns length. */
int double_to_str(char *buf, size_t size, double d);
/* Shortest text that reads back to the same double (as Redis's d2string). */
int double_to_str_human(char *buf, size_t size, double d);
/* Long double the way INCRBYFLOAT prints it: fixed notation, trailing zeros
 * trimmed ("%.17Lf" humanized). Returns 0 when d is not finite. */
int ldouble_to_str(char *buf, size_t size, long double d);

/* Glob match with Redis semantics: * ? [abc] [^a-z] and \ escapes. Linear
 * memory, no recursion; a pattern with more than GLOB_MAX_NESTING runs of '*'
 * followed by more pattern matches nothing (as Redis's nesting limit). */
#define GLOB_MAX_NESTING 1000
int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

/* ASCII case-insensitive compare of a counted string to a C string. */
int str_eq_nocase(const char *s, size_t len, const char *cstr);
#endif
