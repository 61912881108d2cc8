/*
 * A strict JSON reader without a tree: tg_jsonr_check validates a text,
 * then the lookups walk it in place. It accepts exactly what jansson's
 * json_loadb accepts (no flags but JSON_REJECT_DUPLICATES when asked): an
 * object or array at the top with only whitespace around it, valid UTF-8,
 * no control characters or \u0000 in strings, paired surrogates, integers
 * within int64 and reals within double; tests/unit/test_jsonr.c holds
 * jansson to that on generated texts and the Converse fuzz target on
 * everything it finds.
 *
 * Why not jansson here: its tree (a hashtable and an allocation per key and
 * value) was the largest cost left in the worker, 84 k instructions to read
 * one Converse response of ~400 bytes (tests/bench/RESULTS.md, F9).
 *
 * A value is named by a pointer to its first byte: '{', '[', '"', 't',
 * 'f', 'n', '-' or a digit. The lookups take a value of a text that
 * tg_jsonr_check accepted and the text's end; on anything else their result
 * is meaningless, but they never read at or past `end`.
 */
#ifndef TG_JSONR_H
#define TG_JSONR_H

#include <stddef.h>
#include <stdint.h>

#define TG_JSONR_DEPTH_MAX 2048 /* jansson's own limit */

/* 0 when buf[0..len) is valid (see above); -2 when it nests objects and
 * arrays deeper than max_depth (1 to TG_JSONR_DEPTH_MAX, else that) before
 * any other fault; -1 otherwise. errstr says why. */
int tg_jsonr_check(const char *buf, size_t len, int max_depth,
                   int reject_duplicates, char *errstr, size_t errstr_size);

/* The top-level value of the text: its first byte past whitespace. */
const char *tg_jsonr_root(const char *buf, const char *end);

/* The value under `key` (compared after unescaping) in object `obj`, or
 * NULL when obj is not an object or has no such key. */
const char *tg_jsonr_get(const char *obj, const char *end, const char *key);

/* n lookups in one pass over obj: vals[i] is tg_jsonr_get(obj, keys[i]).
 * The first of equal keys wins (tg_jsonr_check can refuse duplicates). */
void tg_jsonr_fields(const char *obj, const char *end, const char *const *keys,
                     size_t n, const char **vals);

/* Object iteration, in the text's order: the first member's value (prev
 * NULL), then the one after prev; NULL after the last or when obj is not an
 * object. *key and *key_len are the member's key, raw (tg_jsonr_unescape). */
const char *tg_jsonr_member(const char *obj, const char *end, const char *prev,
                            const char **key, size_t *key_len);

/* Array iteration: the first element of `arr` (NULL if empty or not an
 * array), then the element after `elem` (NULL after the last). */
const char *tg_jsonr_first(const char *arr, const char *end);
const char *tg_jsonr_next(const char *elem, const char *end);

/* 1 with *out set when v is an integer (no fraction, no exponent). */
int tg_jsonr_int(const char *v, const char *end, int64_t *out);

/* For a string v: its raw length between the quotes, which bounds the
 * unescaped length; tg_jsonr_str writes the unescaped bytes (not NUL
 * ended) to out, which must hold tg_jsonr_raw_len(v) bytes, and returns
 * how many. */
size_t tg_jsonr_raw_len(const char *v, const char *end);
size_t tg_jsonr_str(const char *v, const char *end, char *out);

/* Unescapes the n raw bytes of a string tg_jsonr_check accepted into out
 * (room for n bytes); returns the bytes written. */
size_t tg_jsonr_unescape(const char *s, size_t n, char *out);

#endif
