//! Request body processors: URL-encoded, JSON, multipart and XML bodies turned into the argument lists and
//! flags that SecLang variables (ARGS_POST, FILES, MULTIPART_*, XML, REQBODY_ERROR...) read.
