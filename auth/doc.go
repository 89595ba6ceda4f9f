// Package auth supplies the credentials ossmount signs OSS requests with.
//
// A Provider resolves one credentials source (environment, static keys, an
// ossfs passwd file, RAM role ARN, ECS instance role, OIDC role, credentials
// URI, Alibaba Cloud CLI profile or an external process), fetches the first
// credentials synchronously and keeps temporary credentials fresh with one
// background goroutine, so that signing never waits on a refresh.
package auth
