/* The per-line records --wait needs to write its output in input order. */
#include <stdlib.h>
#include <string.h>

#include "submit.h"

/* Every line read gets a record, in order: record N-1 is line N, which is
 * how a delivery report finds its line. Returns the record, or NULL on
 * ENOMEM (printed). */
tgs_line_t *tgs_line_add(tgs_t *s, int64_t lineno, tgs_kind_t kind,
                         const char *id, const char *reason)
{
        tgs_line_t *l;

        if (lineno != s->n_lines + 1) {
                fprintf(stderr,
                        "tollgate-submit: line %lld recorded out of "
                        "order\n",
                        (long long)lineno);
                return NULL;
        }
        if ((size_t)s->n_lines == s->cap_lines) {
                size_t cap = s->cap_lines ? s->cap_lines * 2 : 1024;
                l = realloc(s->lines, cap * sizeof(*l));
                if (!l)
                        goto oom;
                s->lines = l;
                s->cap_lines = cap;
        }
        l = &s->lines[s->n_lines++];
        l->kind = kind;
        l->id = id ? strdup(id) : NULL;
        l->reason = reason ? strdup(reason) : NULL;
        if ((id && !l->id) || (reason && !l->reason))
                goto oom;
        return l;
oom:
        fprintf(stderr, "tollgate-submit: out of memory\n");
        return NULL;
}

void tgs_lines_free(tgs_t *s)
{
        for (int64_t i = 0; i < s->n_lines; i++) {
                free(s->lines[i].id);
                free(s->lines[i].reason);
        }
        free(s->lines);
        s->lines = NULL;
        s->n_lines = 0;
        s->cap_lines = 0;
}
