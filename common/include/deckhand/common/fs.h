// File system operations that every component needs, with errors as values.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"

namespace deckhand::fs {

Result<std::string> read_file(const std::string& path);
// Everything fd gives until EOF (what names it in errors); more than max_size
// bytes is an InvalidArgument error.
Result<std::string> read_all(int fd, const std::string& what, size_t max_size = SIZE_MAX);

// How far a write must survive: a crash of the writing process only, or a
// power loss too (the fsyncs cost ~1 ms here). State that a reboot makes moot
// anyway, such as CNI leases and results of pods whose namespaces a reboot
// removes, needs only the first.
enum class Durability { ProcessCrash, PowerLoss };

// Writes data to path so that readers see either the old or the whole new
// content: write a temp file beside it and rename it into place (with
// PowerLoss, fsync the file before and the directory after).
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                         Durability durability = Durability::PowerLoss);

// mkdir -p; existing directories are fine.
Status make_dirs(const std::string& path, mode_t mode = 0755);

// Asks the filesystem to place new subdirectories of path as it places
// top-level ones, spread over its block groups (ext2/3/4's FS_TOPDIR_FL),
// rather than beside path. For directories with many short-lived
// subdirectories (a container's each): ext4 skips recently deleted inodes one
// by one when it allocates, so churn packed into one group makes every mkdir
// and overlay mount there slower the more there has been. A no-op on
// filesystems without the flag.
Status spread_subdirectories(const std::string& path);

// rm -rf without following symlinks and without crossing mount points; a
// missing path is fine.
Status remove_all(const std::string& path);

bool exists(const std::string& path);

// Names in a directory, without "." and "..". A missing directory gives an empty list.
Result<std::vector<std::string>> list_dir(const std::string& path);

Result<UniqueFd> open_fd(const std::string& path, int flags, mode_t mode = 0);

// Writes all of data to fd, retrying short writes; what names the file in errors.
Status write_all(int fd, std::string_view data, const std::string& what);

// Joins path parts with single slashes.
std::string join(std::string_view a, std::string_view b);

struct DiskUsage {
  uint64_t bytes = 0;   // st_blocks * 512
  uint64_t inodes = 0;
};

// What the tree under path uses, not following symlinks and counting a file
// with several hard links once. Entries removed during the walk are skipped.
Result<DiskUsage> disk_usage(const std::string& path);

}  // namespace deckhand::fs
