// Package cache holds ossmount's caches: a TTL cache for object attributes,
// negative lookups and directory listings (golang-lru with the deadline kept
// in each entry, so no background goroutine is needed), a memory Budget
// shared by prefetching and cached data, and a BlockCache of object data
// keyed by (key, ETag, block index) so stale bytes are never served, and an
// AttrStore that keeps HEAD results on disk between mounts, valid only for
// the version (ETag, Last-Modified) they were read from.
package cache
