package web

import "embed"

// Console holds the operator console's templates and static assets.
//
//go:embed templates/*.html static/*
var Console embed.FS

// OpenAPI is the admin API description, served at /api/v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
