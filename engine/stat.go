package engine

import (
	"math"
	"syscall"
	"time"

	"github.com/ossmount/ossmount/ossapi"
)

// Stat is what the mount knows of one key: its attributes and the version
// they describe. One is kept for every entry of a cached listing and every
// inode the kernel holds (the same one when both), so it is kept small: a
// listing's entry holds no ObjectInfo, only the facts a LIST gives
// (FromList, LastMod, Class, OType).
type Stat struct {
	Size     int64
	MtimeSec int64 // the mtime (see Mtime): seconds since the epoch
	ETag     string
	// Info is the object's own description from a HEAD (or from what this
	// mount wrote); nil for implicit directories and a listing's entries.
	Info *ossapi.ObjectInfo
	// Answered is when the server's answer giving size and ETag arrived
	// (unix nanoseconds; 0: not from an answer), for opens that take it
	// as the current version without a HEAD.
	Answered int64
	LastMod  uint32 // Last-Modified of the version described, Unix seconds (0: unknown)
	Mode     uint32 // full st_mode
	UID      uint32
	GID      uint32
	Rdev     uint32 // device number of a character or block device
	// MtimeNsec are the mtime's nanoseconds (a time.Time would take twice
	// the room of MtimeSec and MtimeNsec).
	MtimeNsec uint32

	Dir      bool
	Implicit bool // a directory with no marker object
	Listed   bool // implicit only as far as a listing's common prefix tells: a marker may exist
	// Known: mode, uid, gid, mtime and rdev are the object's own (from a
	// HEAD, from the attribute store for the same version, from what this
	// mount wrote, or the defaults of a directory known to have no
	// marker). Otherwise they are a listing's guess (mount defaults and
	// Last-Modified), shown only with fast_listing and never used to grant
	// access.
	Known bool
	// FromList: a LIST entry of an object; its storage class and object
	// type are Class and OType (StorageClassCode, ObjectTypeCode).
	FromList     bool
	Class, OType uint8
}

// Mtime is the modification time shown.
func (a *Stat) Mtime() time.Time { return time.Unix(a.MtimeSec, int64(a.MtimeNsec)) }

// SetMtime sets the modification time shown.
func (a *Stat) SetMtime(t time.Time) { a.MtimeSec, a.MtimeNsec = t.Unix(), uint32(t.Nanosecond()) }

// Full reports whether the attributes came from a HEAD (all metadata known).
func (a *Stat) Full() bool { return a.Info != nil && a.Info.Full }

// Facts is what is known of the object's own description: a HEAD's, a
// listing entry's (key, size, ETag, Last-Modified, storage class, object
// type; no metadata), or nil.
func (a *Stat) Facts() *ossapi.ObjectInfo {
	if a.Info != nil || !a.FromList {
		return a.Info
	}
	info := &ossapi.ObjectInfo{Size: a.Size, ETag: a.ETag, StorageClass: StorageClassName(a.Class), ObjectType: ObjectTypeName(a.OType)}
	if a.LastMod != 0 {
		info.LastModified = time.Unix(int64(a.LastMod), 0).UTC()
	}
	return info
}

// Base is the object a describes as a Writer's base version.
func (a *Stat) Base() *Base {
	return &Base{Attr: Attr{Size: a.Size, ETag: a.ETag, Mode: a.Mode, UID: a.UID, GID: a.GID, Mtime: a.Mtime()}, Info: a.Info}
}

// MovedTo is a copy of a describing the object copied (with its metadata)
// to a new key, whose ETag is etag: the copy has its own Last-Modified
// and description, not known here.
func (a *Stat) MovedTo(etag string) *Stat {
	na := *a
	na.ETag, na.Info, na.LastMod, na.FromList = etag, nil, 0, false
	return &na
}

func (a *Stat) IsSymlink() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFLNK }

// Special reports whether a is a FIFO, socket or device node.
func (a *Stat) Special() bool {
	switch a.Mode & syscall.S_IFMT {
	case syscall.S_IFIFO, syscall.S_IFSOCK, syscall.S_IFCHR, syscall.S_IFBLK:
		return true
	}
	return false
}

// UnixOrZero is t in Unix seconds, 0 for the zero time (and for a time
// before 1970 or after 2105, which no Last-Modified is).
func UnixOrZero(t time.Time) uint32 {
	if s := t.Unix(); !t.IsZero() && s > 0 && s <= math.MaxUint32 {
		return uint32(s)
	}
	return 0
}

// Reanswered is a copy of a that the server confirmed at t (unix
// nanoseconds).
func (a *Stat) Reanswered(t int64) *Stat {
	c := *a
	c.Answered = t
	return &c
}

// SameVersion reports whether old and a describe the same version of an
// object: same ETag and Last-Modified (a metadata change by a self-copy
// keeps the ETag but not Last-Modified). Attributes this mount uploaded
// carry no Last-Modified; their ETag alone is compared.
func SameVersion(old, a *Stat) bool {
	if old.ETag == "" || old.ETag != a.ETag {
		return false
	}
	return old.LastMod == 0 || old.LastMod == a.LastMod
}

// StorageClassCode and storageClassName map OSS's storage classes to a
// byte and back ("" is 0).
func StorageClassCode(s string) uint8 {
	switch s {
	case "":
		return 0
	case "Standard":
		return 1
	case "IA":
		return 2
	case "Archive":
		return 3
	case "ColdArchive":
		return 4
	case "DeepColdArchive":
		return 5
	}
	return CodeOther
}

func StorageClassName(c uint8) string {
	switch c {
	case 1:
		return "Standard"
	case 2:
		return "IA"
	case 3:
		return "Archive"
	case 4:
		return "ColdArchive"
	case 5:
		return "DeepColdArchive"
	}
	return ""
}

// ObjectTypeCode and objectTypeName map OSS's object types to a byte and
// back ("" is 0).
func ObjectTypeCode(s string) uint8 {
	switch s {
	case "":
		return 0
	case "Normal":
		return 1
	case "Multipart":
		return 2
	case "Appendable":
		return 3
	case "Symlink":
		return 4
	}
	return CodeOther
}

func ObjectTypeName(c uint8) string {
	switch c {
	case 1:
		return "Normal"
	case 2:
		return "Multipart"
	case 3:
		return "Appendable"
	case 4:
		return "Symlink"
	}
	return ""
}

// CodeOther is the code of a storage class or object type that has no
// code of its own: a listing's entry then keeps its ObjectInfo.
const CodeOther = 255
