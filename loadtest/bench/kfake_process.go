package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The events phase's Kafka broker (franz-go's kfake) runs in a process of
// its own at lower CPU priority, like the stuffing attacker: on this
// two-core machine a broker in the harness's process took its CPU from the
// server being measured, and login_with_events_vs_login_ratio would have
// charged Gatehouse for the broker's work, which in production runs on
// machines of its own. The harness starts itself again with -kfake-broker;
// the child prints its listen addresses on one line and serves until its
// standard input closes.

// brokerProcess is a kfake cluster in a child process.
type brokerProcess struct {
	addrs []string
	stop  func() error
}

// startBrokerProcess starts the child and reads its addresses.
func startBrokerProcess(ctx context.Context) (*brokerProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("kfake: find the harness binary: %w", err)
	}
	cmd := lowPriorityCommand(ctx, self, "-kfake-broker")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kfake: start the broker process: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) == "" {
		_ = stdin.Close()
		return nil, errors.Join(fmt.Errorf("kfake: the broker process printed no addresses: %w", err), cmd.Wait())
	}
	return &brokerProcess{
		addrs: strings.Split(strings.TrimSpace(line), ","),
		stop: func() error {
			_ = stdin.Close()
			return cmd.Wait()
		},
	}, nil
}

// brokerMain is the -kfake-broker process.
func brokerMain() int {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, kafkaTopics()...))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: -kfake-broker:", err)
		return 1
	}
	defer cluster.Close()
	fmt.Println(strings.Join(cluster.ListenAddrs(), ","))
	_, _ = io.Copy(io.Discard, os.Stdin) // until the harness closes it
	return 0
}
