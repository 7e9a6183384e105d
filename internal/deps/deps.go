package deps

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/gomlx/compute/gobackend"
	_ "github.com/gomlx/gomlx/core/graph"
	_ "github.com/gomlx/gomlx/core/tensors"
	_ "github.com/gomlx/gomlx/ml/layers"
	_ "github.com/gomlx/gomlx/ml/model"
	_ "github.com/gomlx/gomlx/ml/train"
	_ "github.com/gomlx/gomlx/ml/train/optimizer"
	_ "github.com/hibiken/asynq"
	_ "github.com/mattn/go-sqlite3"
	_ "github.com/redis/go-redis/v9"
	_ "golang.org/x/term"
	_ "gopkg.in/yaml.v3"
)
