/*
 * What the credential-chain tests share (test_creds.c, test_creds_container.c):
 * a fake getenv, files in a private temporary directory, and a tiny HTTP
 * server on 127.0.0.1 in a thread that answers with canned statuses and
 * bodies. Header-only, as tg_test.h is, so each test binary has its own
 * counters and directory.
 */
#ifndef TG_CREDS_FIXTURE_H
#define TG_CREDS_FIXTURE_H

#include "aws/creds.h"
#include "aws/creds_int.h"
#include "tg_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- fake environment -------------------------------------------------- */

typedef struct fenv {
        const char *k[24];
        const char *v[24];
        int n;
} fenv_t;

static inline const char *fenv_get(void *opaque, const char *name)
{
        fenv_t *e = opaque;
        int i;

        for (i = 0; i < e->n; i++)
                if (!strcmp(e->k[i], name))
                        return e->v[i];
        /* A unit test never talks to 169.254.169.254. */
        if (!strcmp(name, "AWS_EC2_METADATA_DISABLED"))
                return "true";
        return NULL;
}

static inline void fset(fenv_t *e, const char *k, const char *v)
{
        e->k[e->n] = k;
        e->v[e->n] = v;
        e->n++;
}

static inline tg_creds_t *creds_new(fenv_t *e, tg_creds_conf_t *conf, char *err,
                                    size_t err_size)
{
        tg_creds_conf_t def = {0};

        if (!conf)
                conf = &def;
        conf->getenv_fn = fenv_get;
        conf->getenv_opaque = e;
        conf->quiet = 1;
        err[0] = '\0';
        return tg_creds_new(conf, err, err_size);
}

/* ---- temp files -------------------------------------------------------- */

static char tmpdir[64];

static inline const char *tpath(const char *name)
{
        static char buf[8][256];
        static int i;

        i = (i + 1) % 8;
        snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
        return buf[i];
}

static inline void write_file(const char *name, const char *text)
{
        FILE *f = fopen(tpath(name), "w");

        CHECK(f != NULL);
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

/* ---- a tiny HTTP server ------------------------------------------------ */

typedef struct srv {
        int fd;
        int port;
        pthread_t th;
        pthread_mutex_t lock;
        int stop;            /* under lock */
        int hits;            /* under lock */
        char last_auth[512]; /* under lock */
        char last_path[512]; /* under lock */
        int status[4];       /* answer i for hit i; the last one repeats */
        const char *body[4];
        int n;
} srv_t;

static inline void header_value(const char *req, const char *name, char *out,
                                size_t size)
{
        const char *p = req;
        size_t n = strlen(name);

        out[0] = '\0';
        while ((p = strstr(p, "\r\n")) != NULL) {
                p += 2;
                if (!strncasecmp(p, name, n) && p[n] == ':') {
                        p += n + 1;
                        while (*p == ' ')
                                p++;
                        snprintf(out, size, "%.*s", (int)strcspn(p, "\r\n"), p);
                        return;
                }
        }
}

static inline void send_all(int fd, const char *p, size_t n)
{
        ssize_t w;

        while (n > 0 && (w = send(fd, p, n, MSG_NOSIGNAL)) > 0) {
                p += w;
                n -= (size_t)w;
        }
}

static inline void serve_one(srv_t *s, int fd)
{
        char req[16384], head[256];
        size_t len = 0;
        ssize_t r;
        int i;

        while (len < sizeof(req) - 1 &&
               (r = recv(fd, req + len, sizeof(req) - 1 - len, 0)) > 0) {
                len += (size_t)r;
                req[len] = '\0';
                if (strstr(req, "\r\n\r\n"))
                        break;
        }
        req[len] = '\0';
        pthread_mutex_lock(&s->lock);
        i = s->hits < s->n ? s->hits : s->n - 1;
        s->hits++;
        header_value(req, "Authorization", s->last_auth, sizeof(s->last_auth));
        snprintf(s->last_path, sizeof(s->last_path), "%.*s",
                 (int)strcspn(req + strcspn(req, " ") + 1, " "),
                 req + strcspn(req, " ") + 1);
        pthread_mutex_unlock(&s->lock);
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 s->status[i], strlen(s->body[i]));
        send_all(fd, head, strlen(head));
        send_all(fd, s->body[i], strlen(s->body[i]));
}

static inline void *srv_main(void *arg)
{
        srv_t *s = arg;
        struct pollfd pfd = {s->fd, POLLIN, 0};
        int stop = 0, fd;

        while (!stop) {
                if (poll(&pfd, 1, 50) > 0 && (fd = accept(s->fd, 0, 0)) >= 0) {
                        serve_one(s, fd);
                        close(fd);
                }
                pthread_mutex_lock(&s->lock);
                stop = s->stop;
                pthread_mutex_unlock(&s->lock);
        }
        return NULL;
}

static inline int srv_start(srv_t *s)
{
        struct sockaddr_in a = {0};
        socklen_t alen = sizeof(a);

        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            listen(s->fd, 16) < 0 ||
            getsockname(s->fd, (struct sockaddr *)&a, &alen) < 0)
                return -1;
        s->port = ntohs(a.sin_port);
        pthread_mutex_init(&s->lock, NULL);
        return pthread_create(&s->th, NULL, srv_main, s) ? -1 : 0;
}

static inline void srv_stop(srv_t *s)
{
        pthread_mutex_lock(&s->lock);
        s->stop = 1;
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->th, NULL);
        close(s->fd);
        pthread_mutex_destroy(&s->lock);
}

static inline int srv_hits(srv_t *s, char *auth, char *path)
{
        int n;

        pthread_mutex_lock(&s->lock);
        n = s->hits;
        if (auth)
                strcpy(auth, s->last_auth);
        if (path)
                strcpy(path, s->last_path);
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* The JSON that ECS and EKS Pod Identity serve. */
static inline void creds_json(char *out, size_t size, const char *key,
                              time_t exp)
{
        char ts[32];
        struct tm tm;

        gmtime_r(&exp, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(out, size,
                 "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"sk-%s\","
                 "\"Token\":\"tok-%s\",\"Expiration\":\"%s\"}",
                 key, key, key, ts);
}

static inline void cleanup_tmp(void)
{
        const char *files[] = {
            "credentials", ".aws/credentials", "long",        "bad",
            "token",       "config",           "credentials2"};
        size_t i;

        for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
                unlink(tpath(files[i]));
        rmdir(tpath(".aws"));
        rmdir(tmpdir);
}

static inline int tmp_init(const char *name)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s_XXXXXX", name);
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return -1;
        }
        return 0;
}

#endif
