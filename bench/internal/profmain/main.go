// Command profmain is a temporary banco with a CPU profile, for development.
package main

import (
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/banco/banco/cmd"
)

func main() {
	if os.Getenv("MEMRATE1") != "" {
		runtime.MemProfileRate = 1
	}
	if p := os.Getenv("CPUPROFILE"); p != "" {
		f, _ := os.Create(p)
		pprof.StartCPUProfile(f)
		defer f.Close()
	}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR1)
		for range c {
			runtime.GC()
			f, _ := os.Create(os.Getenv("HEAPPROFILE"))
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			os.WriteFile(os.Getenv("HEAPPROFILE")+".txt", []byte(
				"heapinuse="+itoa(m.HeapInuse)+" stackinuse="+itoa(m.StackInuse)+" sys="+itoa(m.Sys)+" heapsys="+itoa(m.HeapSys)+"\n"), 0o644)
		}
	}()
	code := cmd.Main(cmd.NewApp())
	pprof.StopCPUProfile()
	os.Exit(code)
}

func itoa(v uint64) string {
	b := []byte{}
	for v >= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(append([]byte{byte('0' + v)}, b...))
}
