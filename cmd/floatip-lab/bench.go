package main

func benchFailover(args []string) int { return 2 }
