// libcurl's easy interface for StampOCI's HTTPTransfer. curl_easy_setopt and
// curl_easy_getinfo are variadic, which Swift cannot call: these typed wrappers can be.
#include <curl/curl.h>

static inline CURLcode CCurl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

static inline CURLcode CCurl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode CCurl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*CCurl_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode CCurl_setopt_callback(CURL *handle, CURLoption option, CCurl_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

/// Trusts the PEM certificates in `data` (copied by libcurl) instead of the CA file.
static inline CURLcode CCurl_setopt_cainfo_blob(CURL *handle, const void *data, size_t length) {
    struct curl_blob blob = {(void *)data, length, CURL_BLOB_COPY};
    return curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &blob);
}

static inline CURLcode CCurl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode CCurl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}
