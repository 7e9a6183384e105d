package data_test

import (
	"fmt"

	"github.com/star-pipeline/star-pipeline/data"
)

func ExampleNewMAD() {
	task, err := data.NewMAD(data.MADConfig{Task: data.InContextRecall, Length: 12, TrainExamples: 4, TestExamples: 2, Seed: 3})
	if err != nil {
		panic(err)
	}
	in, tg := task.TestExample(0)
	fmt.Println(task.Name(), "vocab", task.Vocab())
	fmt.Println("inputs ", in)
	fmt.Println("targets", tg)
	// Output:
	// mad:in-context-recall vocab 16
	// inputs  [4 9 7 8 2 14 7 8 6 11 2 14]
	// targets [-100 -100 -100 -100 -100 -100 -100 -100 -100 -100 14 -100]
}
