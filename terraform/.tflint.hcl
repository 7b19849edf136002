# tflint's bundled Terraform ruleset, every rule (no plugin downloads: the
# cloud rulesets are not used). `make deploy-check` runs
#   tflint --recursive --config "$PWD/terraform/.tflint.hcl" --chdir terraform
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
