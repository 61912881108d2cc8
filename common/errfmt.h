/*
 * The one way to fill an `errstr` buffer (the error convention of every
 * tollgate function: a message in the caller's buffer, -1 returned).
 * NULL or a zero size is allowed: nothing is written.
 */
#ifndef TG_ERRFMT_H
#define TG_ERRFMT_H

#include <stdarg.h>
#include <stddef.h>

int tg_errf(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tg_verrf(char *errstr, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
