"""A real kube-apiserver, kube-controller-manager and etcd run as local processes."""
