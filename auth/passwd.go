package auth

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ossmount/ossmount/ossapi"
)

// passwdSource reads an ossfs passwd file. With required false and no file
// configured or present, it returns (nil, nil).
func passwdSource(opt Options, required bool) (*source, error) {
	file := opt.PasswdFile
	if file == "" {
		var candidates []string
		if home := homeDir(opt.Env); home != "" {
			candidates = append(candidates, filepath.Join(home, ".passwd-ossfs"))
		}
		candidates = append(candidates, "/etc/passwd-ossfs")
		for _, c := range candidates {
			if _, err := os.Stat(c); err == nil {
				file = c
				break
			}
		}
		if file == "" {
			if required {
				return nil, fmt.Errorf("auth: source passwd: no passwd file found (looked for %s)", strings.Join(candidates, " and "))
			}
			return nil, nil
		}
	}
	c, err := readPasswd(file, opt.Bucket)
	if err != nil {
		return nil, err
	}
	return staticSource("passwd", file, c), nil
}

// readPasswd parses an ossfs passwd file: "AK:SK" or "bucket:AK:SK" lines,
// '#' comments and blank lines. A line for bucket wins over a plain
// "AK:SK" line. The file must not be accessible to group or others.
// Errors never quote the file's lines.
func readPasswd(file, bucket string) (ossapi.Credentials, error) {
	f, err := os.Open(file)
	if err != nil {
		return ossapi.Credentials{}, fmt.Errorf("auth: passwd file: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ossapi.Credentials{}, fmt.Errorf("auth: passwd file: %v", err)
	}
	if st.IsDir() {
		return ossapi.Credentials{}, fmt.Errorf("auth: passwd file %s is a directory", file)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return ossapi.Credentials{}, fmt.Errorf("auth: passwd file %s is accessible by group or others (mode %04o); run `chmod 600 %s`", file, mode, file)
	}
	var def, forBucket *ossapi.Credentials
	var otherBuckets int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := string(bytes.TrimSpace(sc.Bytes()))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		var b, ak, sk string
		switch len(fields) {
		case 2:
			ak, sk = fields[0], fields[1]
		case 3:
			b, ak, sk = fields[0], fields[1], fields[2]
		default:
			return ossapi.Credentials{}, fmt.Errorf("auth: passwd file %s line %d: want AK:SK or bucket:AK:SK", file, n)
		}
		if ak == "" || sk == "" || (len(fields) == 3 && b == "") {
			return ossapi.Credentials{}, fmt.Errorf("auth: passwd file %s line %d: empty field (want AK:SK or bucket:AK:SK)", file, n)
		}
		c := &ossapi.Credentials{AccessKeyID: ak, AccessKeySecret: sk}
		switch {
		case b == "":
			if def == nil {
				def = c
			}
		case b == bucket:
			if forBucket == nil {
				forBucket = c
			}
		default:
			otherBuckets++
		}
	}
	if err := sc.Err(); err != nil {
		return ossapi.Credentials{}, fmt.Errorf("auth: reading passwd file %s: %v", file, err)
	}
	if forBucket != nil {
		return *forBucket, nil
	}
	if def != nil {
		return *def, nil
	}
	if otherBuckets > 0 {
		if bucket == "" {
			return ossapi.Credentials{}, fmt.Errorf("auth: passwd file %s has only bucket:AK:SK lines and no bucket was given", file)
		}
		return ossapi.Credentials{}, fmt.Errorf("auth: passwd file %s has no line for bucket %q and no AK:SK line", file, bucket)
	}
	return ossapi.Credentials{}, errors.New("auth: passwd file " + file + " holds no credentials")
}
