/* scripting/scripting_struct — the `struct` Lua library Redis scripts use:
 *
 *   struct.pack(fmt, v1, ...)   -> a binary string
 *   struct.unpack(fmt, s [, i]) -> the values, then the position after them (1-based)
 *   struct.size(fmt)            -> the size of a pack with fmt (no 's' or 'c0')
 *
 * Written for Larder to behave as the library bundled with Redis 7.0. Format
 * options (a number after an option is its size or alignment):
 *   >  <          big endian, little endian (the default: x86-64's order);
 *                 Redis's copy has no '=' (it is an invalid option there too)
 *   ![n]          align fields to min(their size, n) bytes (n a power of 2;
 *                 default 8); alignment is off (1) until a '!'
 *   b B h H l L T signed/unsigned char (1), short (2), long (8), size_t (8)
 *   i[n] I[n]     signed/unsigned integer of n bytes (default 4, at most 32)
 *   f d           float, double
 *   s             a zero-terminated string
 *   c[n]          n bytes as they are (default 1); c0: pack takes the string's
 *                 length, unpack the number unpacked just before
 *   x             one padding byte;   ' ' ignored
 * Numbers cross as Lua numbers (doubles): a negative one is converted to a
 * 64-bit signed integer, any other to unsigned, and its low bytes written. */
#include "scripting/scripting.h"
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#define MAX_INT_SIZE 32
#define MAX_ALIGN 8 /* alignment of double on x86-64 */

typedef struct fmt_state {
    int little; /* byte order */
    size_t align;
} fmt_state;

static int read_num(lua_State *L, const char **fmt, int dflt) {
    if (!isdigit((unsigned char)**fmt)) return dflt;
    int n = 0;
    while (isdigit((unsigned char)**fmt)) {
        int d = *(*fmt)++ - '0';
        if (n > (INT_MAX - d) / 10) luaL_error(L, "integral size overflow");
        n = n * 10 + d;
    }
    return n;
}

/* Size of option opt (its digits consumed from *fmt); 0 for control options. */
static size_t opt_size(lua_State *L, int opt, const char **fmt) {
    switch (opt) {
    case 'b':
    case 'B':
    case 'x':
        return 1;
    case 'h':
    case 'H':
        return 2;
    case 'l':
    case 'L':
    case 'T':
    case 'd':
        return 8;
    case 'f':
        return 4;
    case 'c':
        return (size_t)read_num(L, fmt, 1);
    case 'i':
    case 'I': {
        int n = read_num(L, fmt, 4);
        if (n > MAX_INT_SIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", n, MAX_INT_SIZE);
        return (size_t)n;
    }
    default:
        return 0;
    }
}

/* Padding before a field of `size` bytes at offset pos. */
static size_t padding(size_t pos, const fmt_state *st, int opt, size_t size) {
    if (size == 0 || opt == 'c') return 0;
    if (size > st->align) size = st->align;
    return (size - (pos & (size - 1))) & (size - 1);
}

/* Endianness, alignment and ' '; anything else is not an option. */
static void control_option(lua_State *L, int opt, const char **fmt, fmt_state *st) {
    switch (opt) {
    case ' ':
        return;
    case '>':
        st->little = 0;
        return;
    case '<':
        st->little = 1;
        return;
    case '!': {
        int a = read_num(L, fmt, MAX_ALIGN);
        if (a <= 0 || (a & (a - 1))) luaL_error(L, "alignment %d is not a power of 2", a);
        st->align = (size_t)a;
        return;
    }
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
}

static int is_int_opt(int opt) {
    return opt && strchr("bBhHlLTiI", opt) != NULL;
}

/* The low 8 bytes of the value in the chosen order; wider fields get zeros
 * above them (as Redis's library: no sign extension past 8 bytes). */
static void put_int(luaL_Buffer *b, lua_Number n, size_t size, int little) {
    uint64_t v = n < 0 ? (uint64_t)(int64_t)n : (uint64_t)n;
    char out[MAX_INT_SIZE];
    for (size_t i = 0; i < size; i++)
        out[little ? i : size - 1 - i] = i < 8 ? (char)(v >> (8 * i)) : 0;
    luaL_addlstring(b, out, size);
}

static void put_float(luaL_Buffer *b, lua_Number n, size_t size, int little) {
    char raw[8], out[8];
    if (size == 4) {
        float f = (float)n;
        memcpy(raw, &f, 4);
    } else {
        double d = (double)n;
        memcpy(raw, &d, 8);
    }
    for (size_t i = 0; i < size; i++)
        out[little ? i : size - 1 - i] = raw[i]; /* the host is little-endian */
    luaL_addlstring(b, out, size);
}

/* The result is built in a luaL_Buffer, so an argument error raised half-way
 * leaves nothing to free. */
static int l_pack(lua_State *L) {
    const char *fmt = luaL_checkstring(L, 1);
    fmt_state st = {1, 1};
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;
    lua_pushnil(
        L); /* keeps the buffer off the arguments: a missing one reads as nil, as in Redis */
    luaL_buffinit(L, &b);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = opt_size(L, opt, &fmt);
        static const char zeros[MAX_ALIGN] = {0};
        size_t pad = padding(total, &st, opt, size);
        luaL_addlstring(&b, zeros, pad);
        total += pad;
        if (is_int_opt(opt)) {
            put_int(&b, luaL_checknumber(L, arg++), size, st.little);
        } else if (opt == 'x') {
            luaL_addchar(&b, '\0');
        } else if (opt == 'f' || opt == 'd') {
            put_float(&b, luaL_checknumber(L, arg++), size, st.little);
        } else if (opt == 'c' || opt == 's') {
            size_t len;
            const char *s = luaL_checklstring(L, arg++, &len);
            if (size == 0) size = len;
            luaL_argcheck(L, len >= size, arg,
                          "string too short"); /* Redis names the next argument */
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
        } else {
            control_option(L, opt, &fmt, &st);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

/* Bytes most significant first into 64 bits (wider fields keep their low 8
 * bytes); signed fields under 8 bytes are sign-extended. */
static void push_int(lua_State *L, const unsigned char *p, size_t size, int little, int is_signed) {
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++) v = (v << 8) | p[little ? size - 1 - i : i];
    if (is_signed && size < 8) {
        uint64_t sign = 1ULL << (size * 8 - 1);
        if (v & sign) v |= ~((sign << 1) - 1);
    }
    lua_pushnumber(L, is_signed ? (lua_Number)(int64_t)v : (lua_Number)v);
}

static int l_unpack(lua_State *L) {
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    lua_Integer start = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, start > 0, 3, "offset must be 1 or greater");
    size_t pos = (size_t)start - 1;
    fmt_state st = {1, 1};
    int n = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = opt_size(L, opt, &fmt);
        pos += padding(pos, &st, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        const unsigned char *p = (const unsigned char *)data + pos;
        if (is_int_opt(opt)) {
            push_int(L, p, size, st.little, islower(opt));
            n++;
        } else if (opt == 'f' || opt == 'd') {
            unsigned char raw[8];
            for (size_t i = 0; i < size; i++) raw[i] = p[st.little ? i : size - 1 - i];
            if (opt == 'f') {
                float f;
                memcpy(&f, raw, 4);
                lua_pushnumber(L, (lua_Number)f);
            } else {
                double d;
                memcpy(&d, raw, 8);
                lua_pushnumber(L, (lua_Number)d);
            }
            n++;
        } else if (opt == 'c') {
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1))
                    luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)lua_tonumber(L, -1);
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
        } else if (opt == 's') {
            const char *e = memchr(data + pos, '\0', ld - pos);
            if (!e) luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
        } else if (opt != 'x') {
            control_option(L, opt, &fmt, &st);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

static int l_size(lua_State *L) {
    const char *fmt = luaL_checkstring(L, 1);
    fmt_state st = {1, 1};
    size_t pos = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = opt_size(L, opt, &fmt);
        pos += padding(pos, &st, opt, size);
        if (opt == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
        if (opt == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!isalnum(opt)) control_option(L, opt, &fmt, &st);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int sl_open_struct(lua_State *L) {
    lua_newtable(L);
    lua_pushcfunction(L, l_pack);
    lua_setfield(L, -2, "pack");
    lua_pushcfunction(L, l_unpack);
    lua_setfield(L, -2, "unpack");
    lua_pushcfunction(L, l_size);
    lua_setfield(L, -2, "size");
    return 1;
}
