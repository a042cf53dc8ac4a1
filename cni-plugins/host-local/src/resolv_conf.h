// The dns part of an ADD result, read from a resolv.conf-format file named by
// ipam.resolvConf.
#pragma once

#include <string>
#include <string_view>

#include "deckhand/cni/cni_error.h"
#include "deckhand/cni/network_result.h"

namespace deckhand::cni::host_local {

// nameserver, domain, search and options lines; comments ('#', ';'), blank
// lines, lines without a value and other keywords are skipped.
ResultDns parse_resolv_conf(std::string_view text);

// The file parsed; an unreadable file is an I/O failure (code 5).
CniResult<ResultDns> read_resolv_conf(const std::string& path);

}  // namespace deckhand::cni::host_local
