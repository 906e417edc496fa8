/*
 * gridlet plugin ABI (C). This is the only header a plugin needs.
 *
 * Contract
 * --------
 * A plugin is a shared library that exports one symbol:
 *
 *     const gl_plugin_descriptor* gridlet_plugin_entry(const gl_host_api* host);
 *
 * The host calls it once, right after dlopen, before anything else. The
 * plugin checks host->abi_major (and host->struct_size for the services it
 * needs) and returns its descriptor, or NULL to refuse the host. The host
 * then checks descriptor->abi_major and descriptor->struct_size and refuses
 * the plugin, naming the file, the version found and the version wanted.
 *
 * Versioning: both gl_host_api and gl_plugin_descriptor begin with
 * struct_size, abi_major, abi_minor. A new minor only appends fields at the
 * end; a NULL callback or service means "not supported". A reader must check
 * struct_size (GL_HAS_FIELD) before touching a field added after 1.0.
 *
 * Only C types cross: opaque handles, (pointer, length), integer status.
 * No exceptions, no C++ types, no RocksDB / lua_State / zmq handles.
 *
 * Ownership (two shapes only)
 * ---------------------------
 *   borrowed: valid for the duration of the call only; copy what you keep.
 *   static:   valid until the plugin's destroy() returns (descriptor, schema).
 * Every pointer argument below is borrowed unless it says otherwise.
 *
 * Threads
 * -------
 * Each plugin instance has its own thread. create, start, stop, on_message,
 * on_command, on_timer run on it, one at a time; destroy runs on the kernel's
 * thread after the plugin thread has ended. Host services marked [any thread]
 * may be called from threads the plugin starts itself (e.g. a poller); those
 * marked [plugin thread] only from inside a callback of this plugin.
 *
 * Errors
 * ------
 * Callbacks return gl_status. A callback that returns an error (or, through
 * plugin.hpp, throws) is reported with the text given to host->set_error and
 * the plugin is stopped; the kernel and the other plugins go on.
 */
#ifndef GRIDLET_PLUGIN_H
#define GRIDLET_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GL_ABI_MAJOR 1
#define GL_ABI_MINOR 3

/* The exported entry point's name, for dlsym. */
#define GL_PLUGIN_ENTRY_SYMBOL "gridlet_plugin_entry"

#if defined(_WIN32)
#define GL_EXPORT __declspec(dllexport)
#else
#define GL_EXPORT __attribute__((visibility("default")))
#endif

/* True when a versioned struct `s` (pointer) is large enough to hold `field`. */
#define GL_HAS_FIELD(s, type, field) \
    ((s)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* ------------------------------------------------------------------ status */

typedef int32_t gl_status;
#define GL_OK 0
#define GL_ERR (-1)            /* generic failure; see the error text          */
#define GL_ERR_INVALID (-2)    /* bad argument or bad value                    */
#define GL_ERR_NOT_FOUND (-3)  /* unknown key, series, target or request id    */
#define GL_ERR_TIMEOUT (-4)    /* no reply within the timeout                  */
#define GL_ERR_FULL (-5)       /* a bounded queue stayed full: data dropped    */
#define GL_ERR_UNSUPPORTED (-6)
#define GL_ERR_STOPPED (-7)    /* the plugin or the kernel is stopping         */
#define GL_ERR_TYPE (-8)       /* config key exists with another type          */

/* ------------------------------------------------------------------- types */

typedef enum gl_plugin_kind {
    GL_KIND_DRIVER = 1,    /* talks to devices, publishes data/, handles cmd/ */
    GL_KIND_LOGIC = 2,     /* subscribes, decides, sends commands             */
    GL_KIND_NORTH = 3,     /* forwards data to the outside (MQTT, exports)    */
    GL_KIND_SIMULATOR = 4  /* simulates devices for demos and tests           */
} gl_plugin_kind;

typedef enum gl_log_level {
    GL_LOG_TRACE = 0,
    GL_LOG_DEBUG = 1,
    GL_LOG_INFO = 2,
    GL_LOG_WARN = 3,
    GL_LOG_ERROR = 4,
    GL_LOG_CRITICAL = 5
} gl_log_level;

/* Quality as in OPC: 192 good, 0 bad; values in between are "uncertain". */
#define GL_QUALITY_GOOD 192
#define GL_QUALITY_BAD 0

/* One sample. Fixed 24-byte layout; it never grows (it travels in arrays). */
typedef struct gl_sample {
    int64_t ts_ms;      /* UTC, milliseconds since the Unix epoch */
    double value;
    uint32_t series_id; /* from register_series                   */
    uint8_t quality;    /* GL_QUALITY_GOOD, GL_QUALITY_BAD, ...   */
    uint8_t reserved[3];/* zero                                  */
} gl_sample;

typedef enum gl_series_kind {
    GL_SERIES_GAUGE = 1,   /* instantaneous value (A, kW, degC)              */
    GL_SERIES_COUNTER = 2, /* monotonic total (kWh, m3); resets are handled  */
    GL_SERIES_STATE = 3    /* enumerated state; see gl_series_info.states     */
} gl_series_kind;

typedef struct gl_series_info {
    uint32_t struct_size;     /* sizeof(gl_series_info)                          */
    const char* name;         /* "device/point", e.g. "panel1/branch07/current"  */
    const char* unit;         /* "A", "kWh", ... or NULL                         */
    gl_series_kind kind;
    const char* description;  /* or NULL                                         */
    const char* tags;         /* "key=value,key=value" or NULL: site, building,
                                 floor, space, device, load, group, usage, fluid,
                                 or free keys                                    */
    const char* states;       /* STATE kind: "0=off,1=on,2=alarm" or NULL        */
} gl_series_info;

typedef enum gl_config_type {
    GL_CFG_STRING = 1,
    GL_CFG_INT = 2,
    GL_CFG_DOUBLE = 3,    /* an integer literal is accepted too              */
    GL_CFG_BOOL = 4,
    GL_CFG_TABLE = 5,     /* nested table; read it through config_json       */
    GL_CFG_ARRAY = 6      /* array; read it through config_json              */
} gl_config_type;

/* One key of a plugin's config (or device) schema. static. */
typedef struct gl_config_key {
    const char* key;
    gl_config_type type;
    const char* default_value; /* TOML literal ("1000", "\"tcp\"", "true") or NULL */
    const char* help;
    int required;              /* nonzero: the key must be present          */
} gl_config_key;

typedef enum gl_message_type {
    GL_MSG_SAMPLES = 1, /* topic data/<device>/..., samples set        */
    GL_MSG_EVENT = 2    /* topic event/<source>/<type>, event set      */
} gl_message_type;

typedef struct gl_event {
    uint32_t struct_size;
    int64_t ts_ms;          /* UTC ms                                  */
    const char* source;     /* plugin instance or device name          */
    const char* type;       /* "online", "offline", "alarm", ...       */
    int32_t severity;       /* gl_severity                             */
    const char* body_json;  /* a JSON object, not NUL-terminated       */
    size_t body_len;
} gl_event;

typedef enum gl_severity {
    GL_SEV_DEBUG = 0,
    GL_SEV_INFO = 1,
    GL_SEV_WARNING = 2,
    GL_SEV_ERROR = 3,
    GL_SEV_CRITICAL = 4
} gl_severity;

/* What on_message receives. borrowed. */
typedef struct gl_message {
    uint32_t struct_size;
    gl_message_type type;
    const char* topic;          /* NUL-terminated                          */
    const gl_sample* samples;   /* GL_MSG_SAMPLES: the subscribed samples   */
    size_t sample_count;
    const gl_event* event;      /* GL_MSG_EVENT                             */
} gl_message;

/* A command: write `value` (or `text`) to target "device/point". borrowed. */
typedef struct gl_command {
    uint32_t struct_size;
    uint64_t request_id;  /* pass to reply_command, exactly once            */
    const char* target;   /* "device/point"                                 */
    double value;
    const char* text;     /* optional text argument (e.g. a reset code name)
                             or NULL                                        */
    uint32_t timeout_ms;  /* what the sender waits; reply before it         */
    const char* sender;   /* the sending plugin instance                    */
} gl_command;

/* What a north plugin's feed keeps (ABI 1.2, feed_open). borrowed. */
typedef struct gl_feed_spec {
    uint32_t struct_size;
    const char* const* series;   /* globs over series names, as subscribe  */
    size_t series_count;
    const char* const* events;   /* globs over "source/type" of events     */
    size_t events_count;
    uint64_t max_bytes;          /* disk budget of the feed; 0: 1 GiB      */
} gl_feed_spec;

/* One feed entry (ABI 1.2, feed_read): samples or one event. borrowed. */
typedef struct gl_feed_item {
    uint32_t struct_size;
    uint64_t seq;                /* increasing, never reused                */
    const gl_sample* samples;    /* samples of one store write, in order    */
    size_t sample_count;
    const gl_event* event;       /* or one event (then sample_count is 0)   */
} gl_feed_item;
typedef int (*gl_feed_item_fn)(void* user, const gl_feed_item* item);

typedef struct gl_feed_stats {
    uint32_t struct_size;
    uint64_t entries;            /* waiting (an upper bound while entries
                                    are done out of order)                  */
    uint64_t bytes;              /* approximate size on disk                */
    uint64_t first_seq, last_seq;/* oldest waiting, newest appended (0: none) */
    uint64_t dropped_samples;    /* dropped by the budget since start       */
    uint64_t dropped_events;
} gl_feed_stats;

/* The one reply a sender gets for each command. borrowed. */
typedef struct gl_command_reply {
    uint32_t struct_size;
    uint64_t request_id;
    gl_status status;     /* GL_OK, GL_ERR (see error), GL_ERR_TIMEOUT,
                             GL_ERR_NOT_FOUND (no plugin handles the target) */
    const char* error;    /* NUL-terminated; "" when status is GL_OK         */
    const char* target;
} gl_command_reply;

/* Called on the sender's plugin thread, exactly once per sent command. */
typedef void (*gl_reply_fn)(void* user, const gl_command_reply* reply);

/* The host's handle for one plugin instance. */
typedef struct gl_host_ctx gl_host_ctx;

/* ----------------------------------------------------------- host services */

typedef struct gl_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* [any thread] Log `msg` (len bytes) tagged with the plugin's name. */
    void (*log)(gl_host_ctx* ctx, gl_log_level level, const char* msg, size_t len);

    /* [any thread] Set the text reported with the error status the current
     * callback is about to return. */
    void (*set_error)(gl_host_ctx* ctx, const char* msg);

    /* [any thread] The plugin's [plugins.config] table, validated against its
     * schema, defaults filled in, as a JSON object. static. */
    const char* (*config_json)(gl_host_ctx* ctx, size_t* len);

    /* [any thread] Typed config reads. *out_str is static. GL_ERR_NOT_FOUND if
     * absent (and no default), GL_ERR_TYPE if of another type. */
    gl_status (*config_string)(gl_host_ctx* ctx, const char* key, const char** out_str);
    gl_status (*config_int)(gl_host_ctx* ctx, const char* key, int64_t* out);
    gl_status (*config_double)(gl_host_ctx* ctx, const char* key, double* out);
    gl_status (*config_bool)(gl_host_ctx* ctx, const char* key, int* out);

    /* [any thread] The site's [[devices]] that name this plugin instance,
     * each validated against the descriptor's device_schema, as a JSON
     * array of objects. static. */
    const char* (*devices_json)(gl_host_ctx* ctx, size_t* len);

    /* [any thread] Name -> id, creating the series on first use (metadata of
     * a later call for the same name updates it). Ids are stable for the
     * life of the store. */
    gl_status (*register_series)(gl_host_ctx* ctx, const gl_series_info* info, uint32_t* out_id);

    /* [any thread] Id of an existing series, or GL_ERR_NOT_FOUND. */
    gl_status (*series_id)(gl_host_ctx* ctx, const char* name, uint32_t* out_id);

    /* [any thread] Name of a series; writes at most cap bytes including the
     * NUL. GL_ERR_INVALID if cap is too small, GL_ERR_NOT_FOUND if unknown. */
    gl_status (*series_name)(gl_host_ctx* ctx, uint32_t id, char* buf, size_t cap);

    /* [any thread] Publish n samples on data/<device>/<point>. Copies them.
     * Blocks at most the bus send timeout when a subscriber's bounded queue
     * is full, then drops and returns GL_ERR_FULL (the drop is counted). */
    gl_status (*publish)(gl_host_ctx* ctx, const gl_sample* samples, size_t n);

    /* [plugin thread] Receive messages whose topic matches `pattern`:
     * a plain prefix ("data/panel1/", "event/") or a glob where '*' matches
     * within one path segment, '?' one character and a double star across
     * segments; for example "data/panel?/branch07/kw". Subscribing to
     * "cmd/<device>/" makes this plugin the handler of that device's
     * commands (on_command). */
    gl_status (*subscribe)(gl_host_ctx* ctx, const char* pattern);

    /* [plugin thread] Call on_timer(timer_id) every interval_ms (repeat != 0)
     * or once. Monotonic clock, no drift: fire n is at start + n*interval. */
    gl_status (*add_timer)(gl_host_ctx* ctx, uint64_t interval_ms, int repeat, uint64_t* out_timer_id);
    gl_status (*cancel_timer)(gl_host_ctx* ctx, uint64_t timer_id);

    /* [plugin thread] Send a command to target "device/point". `reply` is
     * called on this plugin's thread exactly once: with the handler's answer,
     * GL_ERR_TIMEOUT after timeout_ms, or GL_ERR_NOT_FOUND at once when no
     * plugin handles the device. `text` may be NULL. */
    gl_status (*send_command)(gl_host_ctx* ctx, const char* target, double value, const char* text,
                              uint32_t timeout_ms, gl_reply_fn reply, void* user,
                              uint64_t* out_request_id);

    /* [any thread] Answer a command received by on_command. status GL_OK, or
     * an error with a text saying what failed. The second reply to the same
     * request id is refused with GL_ERR_NOT_FOUND. */
    gl_status (*reply_command)(gl_host_ctx* ctx, uint64_t request_id, gl_status status, const char* error);

    /* [any thread] Emit an event on event/<source>/<type>. source NULL means
     * the plugin instance name. body_json must be a JSON object (or NULL). */
    gl_status (*emit_event)(gl_host_ctx* ctx, const char* source, const char* type, int32_t severity,
                            const char* body_json, size_t body_len);

    /* [any thread] Clocks: UTC wall time, and a monotonic time for periods
     * and timeouts, both in ms. */
    int64_t (*now_ms)(gl_host_ctx* ctx);
    int64_t (*monotonic_ms)(gl_host_ctx* ctx);

    /* [any thread] The plugin instance name from the site config. static. */
    const char* (*instance_name)(gl_host_ctx* ctx);

    /* [any thread] True once the kernel asked this plugin to stop: threads the
     * plugin started must end soon after (the kernel waits a bounded time). */
    int (*stopping)(gl_host_ctx* ctx);

    /* ---- added in ABI 1.1 ---- */

    /* [validate, create] Reports one problem of the configuration: `device`
     * names the [[devices]] entry it is about, or is NULL for the plugin's
     * own [plugins.config]. The host prints it as `file:line: message` at
     * the line of that entry. Several problems may be reported. */
    void (*config_problem)(gl_host_ctx* ctx, const char* device, const char* msg);

    /* ---- added in ABI 1.2: store-and-forward feeds for north plugins ----
     *
     * A feed is this instance's persistent queue in the store's outbox
     * ("north/<instance>"). The kernel's store writer appends every sample
     * whose series matches one of the feed's patterns, and every event whose
     * "source/type" matches one of its event patterns, to the feed BEFORE
     * it writes them to the store: a sample the store acknowledged is in
     * the feed (or was already forwarded), also after kill -9. The plugin
     * reads the feed, forwards, and calls feed_done for what the far end
     * acknowledged; the rest waits, across restarts, within max_bytes (the
     * oldest entries are dropped beyond it, counted in gl_feed_stats).
     * Kernels without a store return GL_ERR_UNSUPPORTED. North plugins
     * (GL_KIND_NORTH) are started before drivers, so a feed opened in
     * create() sees every sample from the first one. Called in validate(),
     * it only tells (GL_OK or GL_ERR_UNSUPPORTED) whether the site has a
     * store, so that `gridlet check` refuses what `run` would. */
    gl_status (*feed_open)(gl_host_ctx* ctx, const struct gl_feed_spec* spec); /* [plugin thread] */

    /* [any thread] Calls fn for up to max_items entries with seq > after, in
     * order (after = 0: from the oldest). fn returns 0 to stop early. The
     * item and what it points to are borrowed for the call. */
    gl_status (*feed_read)(gl_host_ctx* ctx, uint64_t after, size_t max_items, gl_feed_item_fn fn, void* user);

    /* [any thread] Removes entries the far end acknowledged (any order). */
    gl_status (*feed_done)(gl_host_ctx* ctx, const uint64_t* seqs, size_t n);

    /* [any thread] What waits in the feed and what its budget dropped. */
    gl_status (*feed_stats)(gl_host_ctx* ctx, struct gl_feed_stats* out);

    /* [any thread] Unit of a series ("" when none); as series_name. */
    gl_status (*series_unit)(gl_host_ctx* ctx, uint32_t id, char* buf, size_t cap);

    /* [any thread] The site's name ([site] name), e.g. for topics. static. */
    const char* (*site_name)(gl_host_ctx* ctx);

    /* [any thread] Kind of a series (a gl_series_kind), or GL_ERR_NOT_FOUND. */
    gl_status (*series_kind)(gl_host_ctx* ctx, uint32_t id, int32_t* out_kind);

    /* ---- added in ABI 1.3 ---- */

    /* [any thread] Labels of a GL_SERIES_STATE series as registered, e.g.
     * "0=unknown,1=online,2=offline" ("" for other kinds or none); as
     * series_name: GL_ERR_NOT_FOUND, GL_ERR_INVALID when cap is too small. */
    gl_status (*series_states)(gl_host_ctx* ctx, uint32_t id, char* buf, size_t cap);
} gl_host_api;

/* -------------------------------------------------------- plugin descriptor */

typedef struct gl_plugin_descriptor {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;

    const char* name;        /* "modbus"             static */
    const char* version;     /* "1.2.0"              static */
    gl_plugin_kind kind;
    const char* description; /* one line             static */

    const gl_config_key* config_schema; /* [plugins.config] keys; static */
    size_t config_schema_len;
    const gl_config_key* device_schema; /* keys of [[devices]] this plugin drives,
                                           besides name and plugin; static */
    size_t device_schema_len;

    /* Make an instance. `ctx` stays valid until destroy returns. Read config
     * here and refuse bad values with set_error + GL_ERR_INVALID. */
    gl_status (*create)(gl_host_ctx* ctx, void** out_state);
    /* Begin work: subscribe, add timers, start own threads. */
    gl_status (*start)(void* state);
    /* Stop work: join own threads. Called once, after a successful start. */
    void (*stop)(void* state);
    /* Free the instance. */
    void (*destroy)(void* state);

    gl_status (*on_message)(void* state, const gl_message* msg);
    gl_status (*on_command)(void* state, const gl_command* cmd);
    gl_status (*on_timer)(void* state, uint64_t timer_id);

    /* ---- added in ABI 1.1; NULL = nothing to check beyond the schemas ---- */

    /* Checks config_json() and devices_json() the way create() would read
     * them, with no side effect (no thread, socket, or write; reading files
     * such as device profiles is fine), and reports every problem with
     * host->config_problem. Runs on the kernel's thread, before create(),
     * with a context that offers only log, set_error, config_* ,
     * devices_json and config_problem. `gridlet check` and `gridlet run`
     * both call it: check refuses the site for any problem (exit 2); run
     * refuses it for a problem of [plugins.config] and leaves out a device
     * with a problem (logged with file:line, an event, in metrics), so that
     * one bad device does not stop the others. Return GL_OK whether or not
     * problems were found; an error status (with set_error) is a problem
     * of the plugin itself. */
    gl_status (*validate)(gl_host_ctx* ctx);
} gl_plugin_descriptor;

/* The entry point every plugin exports. */
typedef const gl_plugin_descriptor* (*gl_plugin_entry_fn)(const gl_host_api* host);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GRIDLET_PLUGIN_H */
