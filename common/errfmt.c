#include "errfmt.h"

#include <stdio.h>

int tg_verrf(char *errstr, size_t size, const char *fmt, va_list ap)
{
        if (errstr && size)
                vsnprintf(errstr, size, fmt, ap);
        return -1;
}

int tg_errf(char *errstr, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        tg_verrf(errstr, size, fmt, ap);
        va_end(ap);
        return -1;
}
