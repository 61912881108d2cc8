/*
 * A small JSON writer for the documents the worker emits on every request
 * (events, the Converse body): it appends to one growable buffer with a hard
 * cap, where jansson builds a tree of small allocations and then dumps it.
 *
 * The output is byte for byte what jansson's json_dumps(JSON_COMPACT) gives
 * for the same values in the same order (tests/unit/test_jsonw.c checks it):
 * no spaces; in strings `"` and `\` escaped, control characters as \b \f \n
 * \r \t or \u00XX (upper-case hex), `/` and non-ASCII UTF-8 as they are;
 * integers as %lld; reals as jansson's JSON_REAL_PRECISION(n).
 *
 * Errors are sticky: after the first one every call is a no-op and
 * tg_jsonw_finish returns NULL, so a builder checks once at the end.
 */
#ifndef TG_JSONW_H
#define TG_JSONW_H

#include <stddef.h>
#include <stdint.h>

enum {
        TG_JSONW_OK,
        TG_JSONW_ENOMEM,  /* realloc failed */
        TG_JSONW_ETOOBIG, /* the document would pass its cap */
        TG_JSONW_EUTF8,   /* a string is not valid UTF-8 (strict mode) */
        TG_JSONW_EREAL,   /* a real that is NaN or infinite */
};

typedef struct tg_jsonw {
        char *buf;  /* owned until tg_jsonw_finish */
        size_t len; /* bytes written, buf[len] is kept NUL */
        size_t cap; /* bytes allocated */
        size_t max; /* the hard cap on len */
        int err;    /* TG_JSONW_E*, sticky */
        int comma;  /* a value ended at this level: the next needs ',' */
        int lossy;  /* invalid UTF-8 bytes become '?' instead of EUTF8 */
} tg_jsonw_t;

/* Starts an empty document of at most `max` bytes with `initial` bytes
 * reserved (one allocation when the guess is right). lossy: write each byte
 * that is not part of valid UTF-8 as '?' (as tg_utf8_sanitize), for text
 * that must be published anyway; otherwise such a string is TG_JSONW_EUTF8,
 * which is what jansson refuses. Allocation failure shows as w->err. */
void tg_jsonw_init(tg_jsonw_t *w, size_t initial, size_t max, int lossy);

/* The NUL-terminated document (free() it) and its length in *len (may be
 * NULL); NULL when any call failed. Releases w either way. */
char *tg_jsonw_finish(tg_jsonw_t *w, size_t *len);

/* Releases w without a document (an error path). */
void tg_jsonw_free(tg_jsonw_t *w);

void tg_jsonw_obj_open(tg_jsonw_t *w);
void tg_jsonw_obj_close(tg_jsonw_t *w);
void tg_jsonw_arr_open(tg_jsonw_t *w);
void tg_jsonw_arr_close(tg_jsonw_t *w);

/* An object key (escaped like any string); the value follows. */
void tg_jsonw_key(tg_jsonw_t *w, const char *key);

/* Values. tg_jsonw_str(w, NULL) writes null (jansson's json_string(NULL)
 * failed, and the key was lost); strn needs a non-NULL s. */
void tg_jsonw_str(tg_jsonw_t *w, const char *s);
void tg_jsonw_strn(tg_jsonw_t *w, const char *s, size_t len);
void tg_jsonw_int(tg_jsonw_t *w, int64_t v);
void tg_jsonw_null(tg_jsonw_t *w);
void tg_jsonw_bool(tg_jsonw_t *w, int v);
/* A finite double with `precision` significant digits (1-31; 0 means 17,
 * jansson's default), always with a '.' or an exponent so it reads back as
 * a real; NaN and infinities are TG_JSONW_EREAL (jansson has no value for
 * them either). */
void tg_jsonw_real(tg_jsonw_t *w, double v, int precision);

/* Key and value in one call, the common case of a builder. */
void tg_jsonw_kstr(tg_jsonw_t *w, const char *key, const char *s);
void tg_jsonw_kint(tg_jsonw_t *w, const char *key, int64_t v);

/* 1 when s[0..len) is valid UTF-8 by jansson's rules (RFC 3629: no
 * overlongs, no surrogates, at most U+10FFFF; NUL bytes allowed). */
int tg_jsonw_utf8_valid(const char *s, size_t len);

#endif
