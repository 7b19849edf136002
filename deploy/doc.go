// Package deploy holds the checks `make deploy-check` runs on Gatehouse's
// deployment files: the kustomize overlays under k8s/ (built, decoded
// strictly into Kubernetes API types, and held to the server's needs), the
// Terraform modules under terraform/ (every module call against the module's
// variables), and the image (a static binary). It has no code of its own
// beyond the helpers its tests share.
package deploy

import (
	"os"
	"path/filepath"
)

// RepoRoot finds the repository root (the directory holding go.mod) from
// dir upwards.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
