/*
 * Internals of the credentials provider, shared by creds*.c only.
 *
 * tg_creds_new() turns the environment and the shared files into a tree of
 * sources (tg_creds_src_t, creds_chain.c): the root is the source that
 * won; an assume-role source owns the source of its own credentials.
 * Fetching (creds_fetch.c) walks the tree from the leaves: the refresh
 * thread calls it again before expiry. Sources are immutable once built,
 * so the refresh thread reads them without a lock.
 */
#ifndef TG_AWS_CREDS_INT_H
#define TG_AWS_CREDS_INT_H

#include <stddef.h>

#include "creds.h"

#define TG_CREDS_LINE_MAX         4096 /* one line of a shared file */
#define TG_CREDS_FILE_MAX         (1024 * 1024)
#define TG_CREDS_HTTP_BODY_MAX    (64 * 1024) /* container, STS, IMDS creds */
#define TG_CREDS_IMDS_SMALL_MAX   4096        /* IMDS token and role name */
#define TG_CREDS_PROCESS_OUT_MAX  (64 * 1024) /* credential_process stdout */
#define TG_CREDS_URL_MAX          2048
#define TG_CREDS_AUTH_TOKEN_MAX   8192
#define TG_CREDS_WEB_TOKEN_MAX    20480 /* STS takes at most 20,000 */
#define TG_CREDS_ARN_MAX          2048
#define TG_CREDS_CMD_MAX          4096
#define TG_CREDS_PATH_MAX         4096
#define TG_CREDS_INI_SECTIONS_MAX 256
#define TG_CREDS_INI_KEYS_MAX     48
#define TG_CREDS_CHAIN_MAX        8 /* assume-role hops */

/* ---- environment ------------------------------------------------------- */

typedef struct tg_creds_env {
        tg_creds_getenv_fn fn;
        void *opaque;
} tg_creds_env_t;

/* Unset and empty read alike, as in AWS SDKs. */
const char *tg_creds_env_get(const tg_creds_env_t *e, const char *name);

/* Copies src into dst; -1 (dst emptied) when it does not fit. */
int tg_creds_copy(char *dst, size_t dst_size, const char *src);

/* Every value ends up in an HTTP header: no control characters. */
int tg_creds_snapshot_check(const tg_creds_snapshot_t *s, char *errstr,
                            size_t errstr_size);

/* ---- shared files (creds_ini.c) ---------------------------------------- */

typedef struct tg_creds_ini_kv {
        char key[64]; /* lower case */
        char *val;    /* malloc'd; may be a secret */
} tg_creds_ini_kv_t;

typedef struct tg_creds_ini_sec {
        char name[TG_CREDS_PROFILE_MAX]; /* the profile name */
        tg_creds_ini_kv_t kv[TG_CREDS_INI_KEYS_MAX];
        size_t n;
} tg_creds_ini_sec_t;

typedef struct tg_creds_ini {
        tg_creds_ini_sec_t secs[TG_CREDS_INI_SECTIONS_MAX];
        size_t n;
        tg_creds_ini_sec_t *cur; /* while reading */
} tg_creds_ini_t;

/* Loads a shared file (config_file: "[profile NAME]" sections). Returns 1
 * when loaded, 0 when path is empty or the file does not exist (ini
 * empty), -1 on a malformed or oversized file (errstr names path:line). */
int tg_creds_ini_load(tg_creds_ini_t *ini, const char *path, int config_file,
                      char *errstr, size_t errstr_size);
int tg_creds_ini_has(const tg_creds_ini_t *ini, const char *profile);
/* The value, or NULL when the profile or key is absent. */
const char *tg_creds_ini_get(const tg_creds_ini_t *ini, const char *profile,
                             const char *key);
void tg_creds_ini_free(tg_creds_ini_t *ini);

/* ---- sources ----------------------------------------------------------- */

typedef enum tg_creds_kind {
        TG_SRC_STATIC,    /* bearer, env, shared-credentials-file, config */
        TG_SRC_ASSUME,    /* STS AssumeRole with the credentials of ->source */
        TG_SRC_WEB,       /* STS AssumeRoleWithWebIdentity */
        TG_SRC_PROCESS,   /* credential_process */
        TG_SRC_CONTAINER, /* ECS, EKS Pod Identity */
        TG_SRC_IMDS,      /* EC2 instance metadata, IMDSv2 */
} tg_creds_kind_t;

typedef struct tg_creds_src tg_creds_src_t;
struct tg_creds_src {
        tg_creds_kind_t kind;
        char method[40]; /* botocore's name for it: "env", ... */
        char profile[TG_CREDS_PROFILE_MAX]; /* "" when none */
        tg_creds_snapshot_t fixed;          /* TG_SRC_STATIC; secret */
        /* STS */
        char role_arn[TG_CREDS_ARN_MAX];
        char session_name[80];
        char external_id[1300];
        int duration_s; /* 0: STS's default */
        char sts_url[TG_CREDS_URL_MAX + 1];
        char region[64];
        /* web identity token file, credential_process command line */
        char path[TG_CREDS_CMD_MAX];
        /* container URL or IMDS base URL */
        char url[TG_CREDS_URL_MAX + 1];
        char auth_token[TG_CREDS_AUTH_TOKEN_MAX]; /* container; secret */
        char auth_token_file[TG_CREDS_PATH_MAX];
        long timeout_ms;
        tg_creds_src_t *source; /* TG_SRC_ASSUME; owned */
};

void tg_creds_src_free(tg_creds_src_t *s);

/* Builds the chain's winner (see creds.h). Returns it (caller frees), or
 * NULL with errstr filled. */
tg_creds_src_t *tg_creds_chain_resolve(const tg_creds_env_t *env,
                                       const tg_creds_conf_t *conf,
                                       char *errstr, size_t errstr_size);

/* Fetches s's credentials (blocking: STS, IMDS, a process). 0 or -1. */
int tg_creds_src_fetch(const tg_creds_src_t *s, tg_creds_snapshot_t *out,
                       char *errstr, size_t errstr_size);

/* "assume-role (profile dev, role arn:..., source: env)": no secret. */
void tg_creds_src_describe(const tg_creds_src_t *s, char *buf, size_t size);

/* ---- HTTP (creds_http.c) ----------------------------------------------- */

typedef struct tg_creds_http_req {
        const char *what;   /* "STS", "IMDS", for errors */
        const char *method; /* "GET", "PUT", "POST" */
        const char *url;
        const char *const *headers; /* "Name: value", NULL-terminated */
        const char *body;           /* POST body or NULL */
        size_t body_len;
        long timeout_ms;
        int no_proxy; /* node-local endpoints: never through a proxy */
        size_t cap;   /* reply body cap; over it is an error */
} tg_creds_http_req_t;

/* Performs the request; *out (malloc'd, NUL-terminated, caller wipes and
 * frees) is the body whatever the status. 0, or -1 on a transport error
 * or a body over the cap. */
int tg_creds_http(const tg_creds_http_req_t *rq, char **out, size_t *out_len,
                  long *status, char *errstr, size_t errstr_size);

/* Whether a container credentials URL is allowed (see creds.h). */
int tg_creds_container_url_ok(const char *url, char *errstr,
                              size_t errstr_size);

/* GETs the container endpoint and fills out's key fields and expiry.
 * auth_token may be NULL. Blocks up to timeout_ms. 0 or -1. */
int tg_creds_container_fetch(const char *url, const char *auth_token,
                             long timeout_ms, tg_creds_snapshot_t *out,
                             char *errstr, size_t errstr_size);

/* Parses the JSON credentials document of the container endpoint and of
 * IMDS (AccessKeyId, SecretAccessKey, Token, Expiration). what names the
 * source in errors. 0 or -1. */
int tg_creds_parse_json(const char *what, const char *body, size_t len,
                        tg_creds_snapshot_t *out, char *errstr,
                        size_t errstr_size);

/* ---- STS (creds_sts.c), IMDS (creds_imds.c), process ------------------- */

/* AssumeRole signed with `with`, or AssumeRoleWithWebIdentity (with NULL,
 * token read from s->path). */
int tg_creds_sts_fetch(const tg_creds_src_t *s, const tg_creds_snapshot_t *with,
                       tg_creds_snapshot_t *out, char *errstr,
                       size_t errstr_size);

/* Parses an STS Query API reply (status as received): the Credentials of
 * a <ActionResponse>, or the Code and Message of an <ErrorResponse>. */
int tg_creds_sts_parse(const char *xml, size_t len, long status,
                       tg_creds_snapshot_t *out, char *errstr,
                       size_t errstr_size);

int tg_creds_imds_fetch(const tg_creds_src_t *s, tg_creds_snapshot_t *out,
                        char *errstr, size_t errstr_size);

/* Splits a command line as botocore does (POSIX shell words: quotes and
 * backslashes, no expansion). Fills argv (at most max-1 words, NULL
 * terminated) pointing into buf. -1 on unbalanced quotes or too many. */
int tg_creds_shell_split(const char *cmd, char *buf, size_t buf_size,
                         char **argv, int max);

/* Runs a credential_process: no shell, stdin /dev/null, stderr inherited,
 * stdout capped, killed after timeout_ms. 0 or -1. */
int tg_creds_process_run(const char *cmd, long timeout_ms,
                         tg_creds_snapshot_t *out, char *errstr,
                         size_t errstr_size);

/* The documented credential_process JSON: Version 1, AccessKeyId,
 * SecretAccessKey, optional SessionToken and Expiration. 0 or -1. */
int tg_creds_process_parse(const char *json, size_t len,
                           tg_creds_snapshot_t *out, char *errstr,
                           size_t errstr_size);

/* Reads a small file (e.g. a token) whole into buf, trailing whitespace
 * trimmed. -1 when unreadable, longer than size-1, or holding a control
 * character. */
int tg_creds_read_token_file(const char *path, char *buf, size_t size,
                             char *errstr, size_t errstr_size);

/* Parses RFC 3339 UTC ("2026-11-27T12:00:00Z", fraction and "+00:00"
 * allowed). 0 or -1. */
int tg_creds_parse_time(const char *s, time_t *out);

#endif
