// The mapping between gRPC status codes and our error kinds, apart from the
// client so that the CRI server can use it without linking the client.
#pragma once

#include "deckhand/common/result.h"

namespace deckhand::cri {

// Maps a gRPC status code to our error kinds and back; codes we do not use
// map to Internal, and Internal maps to INTERNAL.
ErrorKind kind_from_grpc(int grpc_code);
int grpc_code_from_kind(ErrorKind kind);

// The name of a gRPC code as crictl users see it ("NotFound",
// "DeadlineExceeded"); "Code(<n>)" for a number gRPC does not define.
std::string grpc_code_name(int grpc_code);

}  // namespace deckhand::cri
