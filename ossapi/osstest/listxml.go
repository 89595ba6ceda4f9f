package osstest

// The XML answers of the listing operations: ListBuckets, ListObjects
// (V1 and V2), ListParts and ListMultipartUploads.

import "encoding/xml"

// bucketEntry is one bucket in a ListBuckets answer.
type bucketEntry struct {
	CreationDate     string `xml:"CreationDate"`
	ExtranetEndpoint string `xml:"ExtranetEndpoint"`
	IntranetEndpoint string `xml:"IntranetEndpoint"`
	Location         string `xml:"Location"`
	Name             string `xml:"Name"`
	Region           string `xml:"Region"`
	StorageClass     string `xml:"StorageClass"`
}

// listBucketsResult answers ListBuckets.
type listBucketsResult struct {
	XMLName     xml.Name      `xml:"ListAllMyBucketsResult"`
	Prefix      string        `xml:"Prefix,omitempty"`
	Marker      string        `xml:"Marker,omitempty"`
	MaxKeys     int           `xml:"MaxKeys,omitempty"`
	IsTruncated bool          `xml:"IsTruncated,omitempty"`
	NextMarker  string        `xml:"NextMarker,omitempty"`
	Owner       xmlOwner      `xml:"Owner"`
	Buckets     []bucketEntry `xml:"Buckets>Bucket"`
}

// xmlPart is one part in a ListParts answer.
type xmlPart struct {
	PartNumber    int    `xml:"PartNumber"`
	LastModified  string `xml:"LastModified"`
	ETag          string `xml:"ETag"`
	HashCrc64ecma uint64 `xml:"HashCrc64ecma"`
	Size          int64  `xml:"Size"`
}

// listPartsResult answers ListParts.
type listPartsResult struct {
	XMLName              xml.Name  `xml:"ListPartsResult"`
	Bucket               string    `xml:"Bucket"`
	EncodingType         string    `xml:"EncodingType,omitempty"`
	Key                  string    `xml:"Key"`
	UploadID             string    `xml:"UploadId"`
	StorageClass         string    `xml:"StorageClass"`
	PartNumberMarker     int       `xml:"PartNumberMarker"`
	NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
	MaxParts             int       `xml:"MaxParts"`
	IsTruncated          bool      `xml:"IsTruncated"`
	Parts                []xmlPart `xml:"Part"`
}

// xmlUpload is one upload in a ListMultipartUploads answer.
type xmlUpload struct {
	Key          string `xml:"Key"`
	UploadID     string `xml:"UploadId"`
	StorageClass string `xml:"StorageClass"`
	Initiated    string `xml:"Initiated"`
}

// listUploadsResult answers ListMultipartUploads.
type listUploadsResult struct {
	XMLName            xml.Name    `xml:"ListMultipartUploadsResult"`
	Bucket             string      `xml:"Bucket"`
	EncodingType       string      `xml:"EncodingType,omitempty"`
	KeyMarker          string      `xml:"KeyMarker"`
	UploadIDMarker     string      `xml:"UploadIdMarker"`
	NextKeyMarker      string      `xml:"NextKeyMarker"`
	NextUploadIDMarker string      `xml:"NextUploadIdMarker"`
	Delimiter          string      `xml:"Delimiter"`
	Prefix             string      `xml:"Prefix"`
	MaxUploads         int         `xml:"MaxUploads"`
	IsTruncated        bool        `xml:"IsTruncated"`
	Uploads            []xmlUpload `xml:"Upload"`
	CommonPrefixes     []xmlPrefix `xml:"CommonPrefixes"`
}

// listObjectsV2Result answers ListObjectsV2.
type listObjectsV2Result struct {
	XMLName               xml.Name     `xml:"ListBucketResult"`
	Name                  string       `xml:"Name"`
	Prefix                string       `xml:"Prefix"`
	StartAfter            *string      `xml:"StartAfter,omitempty"`
	ContinuationToken     *string      `xml:"ContinuationToken,omitempty"`
	MaxKeys               int          `xml:"MaxKeys"`
	Delimiter             string       `xml:"Delimiter"`
	IsTruncated           bool         `xml:"IsTruncated"`
	NextContinuationToken string       `xml:"NextContinuationToken,omitempty"`
	EncodingType          string       `xml:"EncodingType,omitempty"`
	KeyCount              int          `xml:"KeyCount"`
	Contents              []xmlContent `xml:"Contents"`
	CommonPrefixes        []xmlPrefix  `xml:"CommonPrefixes"`
}

// listObjectsResult answers ListObjects (V1).
type listObjectsResult struct {
	XMLName        xml.Name     `xml:"ListBucketResult"`
	Name           string       `xml:"Name"`
	Prefix         string       `xml:"Prefix"`
	Marker         string       `xml:"Marker"`
	MaxKeys        int          `xml:"MaxKeys"`
	Delimiter      string       `xml:"Delimiter"`
	IsTruncated    bool         `xml:"IsTruncated"`
	NextMarker     string       `xml:"NextMarker,omitempty"`
	EncodingType   string       `xml:"EncodingType,omitempty"`
	Contents       []xmlContent `xml:"Contents"`
	CommonPrefixes []xmlPrefix  `xml:"CommonPrefixes"`
}

type xmlContent struct {
	Key          string   `xml:"Key"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
	Type         string   `xml:"Type"`
	Size         int64    `xml:"Size"`
	StorageClass string   `xml:"StorageClass"`
	Owner        xmlOwner `xml:"Owner"`
}

type xmlPrefix struct {
	Prefix string `xml:"Prefix"`
}

type xmlOwner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}
