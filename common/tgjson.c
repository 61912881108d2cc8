#include "tgjson.h"

int tg_json_depth_ok(const char *buf, size_t len, int max_depth)
{
        int depth = 0, in_str = 0;

        for (size_t i = 0; i < len; i++) {
                char c = buf[i];
                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = 0;
                } else if (c == '"') {
                        in_str = 1;
                } else if (c == '{' || c == '[') {
                        if (++depth > max_depth)
                                return 0;
                } else if (c == '}' || c == ']') {
                        depth--;
                }
        }
        return 1;
}
