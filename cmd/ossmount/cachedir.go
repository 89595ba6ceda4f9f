package main

// Where a mount keeps its files: the default cache directory (staged
// writes, kept data), the attribute store, and the endpoint they are
// named for.

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ossmount/ossmount/cache"
	"github.com/ossmount/ossmount/ossapi"
)

// defaultCacheDir is the cache_dir of a mount that names none: one per
// user and per endpoint and bucket, so no other user and no mount of
// another bucket shares it:
//
//	root:   /var/cache/ossmount/BUCKET-HASH
//	others: $XDG_CACHE_HOME/ossmount/BUCKET-HASH (~/.cache/ossmount/...)
//
// where HASH stands for the endpoint. It is created (mode 0700, symlinks
// refused, owner checked) by privateDir. Staged data and kept files of
// failed uploads live there (persistent storage, not a tmpfs: kept data
// survives a reboot).
func defaultCacheDir(endpoint, bucket string) string {
	base := userDir("/var/cache/ossmount", "XDG_CACHE_HOME", ".cache", "ossmount")
	return filepath.Join(base, bucket+"-"+storeHash(endpoint, bucket))
}

// storeEndpoint names where a client's requests go (upload records and
// kept files carry it with the bucket): the endpoint option, else the
// region's public or internal endpoint.
func storeEndpoint(c ossapi.Config) string {
	if c.Endpoint != "" {
		return c.Endpoint
	}
	host := "oss-" + strings.TrimPrefix(c.Region, "oss-")
	switch {
	case c.Accelerate:
		host = "oss-accelerate"
	case c.Internal:
		host += "-internal"
	}
	return host + ".aliyuncs.com"
}

// openAttrStore opens the bucket's attribute store (nil when disabled, or
// when its directory is not safe to use: the mount then HEADs what a
// listing cannot tell, as on a first mount). It lives in the bucket's
// default cache directory (defaultCacheDir), or in attr_cache_dir;
// attr_cache_dir=none disables it.
func openAttrStore(v values, endpoint, bucket string, size int, log *slog.Logger) *cache.AttrStore {
	dir, name := v.str("attr_cache_dir"), "attrs"
	switch {
	case dir == "none" || dir == "off":
		return nil
	case dir == "":
		dir = defaultCacheDir(endpoint, bucket)
	default:
		abs, err := filepath.Abs(dir)
		if err != nil {
			log.Warn("attribute store disabled", "err", err)
			return nil
		}
		dir = abs
		name = "attrs-" + bucket + "-" + storeHash(endpoint, bucket)
	}
	if err := privateDir(dir); err != nil {
		log.Warn("attribute store disabled", "err", err)
		return nil
	}
	st, err := cache.OpenAttrStore(filepath.Join(dir, name), size, func(name string) (*os.File, error) { return createPrivateFile(name, 0o600) })
	if err != nil {
		log.Warn("attribute store ignored; starting afresh", "err", err)
	}
	return st
}

// storeHash stands for the endpoint and bucket in file names: 12 hex
// digits of their SHA-256.
func storeHash(endpoint, bucket string) string {
	sum := sha256.Sum256([]byte(endpoint + "\n" + bucket))
	return hex.EncodeToString(sum[:6])
}
