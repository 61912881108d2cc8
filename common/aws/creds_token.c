/*
 * Small token files read whole: the container authorization token (EKS Pod
 * Identity) and the web identity token (IRSA), both rotated by the
 * platform and so re-read on every fetch.
 */
#include "creds_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int token_ok(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return 0;
        return 1;
}

int tg_creds_read_token_file(const char *path, char *buf, size_t size,
                             char *errstr, size_t errstr_size)
{
        FILE *f = fopen(path, "r");
        size_t n = 0;
        int ret = -1;

        if (!f) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return -1;
        }
        n = fread(buf, 1, size - 1, f);
        buf[n] = '\0';
        while (n > 0 && is_blank(buf[n - 1]))
                buf[--n] = '\0';
        if (ferror(f) || fgetc(f) != EOF)
                snprintf(errstr, errstr_size,
                         "%s: unreadable or longer than %zu bytes", path,
                         size - 1);
        else if (!n || !token_ok(buf))
                snprintf(errstr, errstr_size,
                         "%s: empty or holds control characters", path);
        else
                ret = 0;
        fclose(f);
        if (ret < 0)
                tg_secret_wipe(buf, size);
        return ret;
}
