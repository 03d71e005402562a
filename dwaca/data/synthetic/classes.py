"""Train ids of the 19 Cityscapes classes as the scene renderer paints them, and its ego-vehicle code."""
(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK, BUS,
 TRAIN, MOTORCYCLE, BICYCLE) = range(19)
EGO_VEHICLE = 254  # void, written as Cityscapes id 1 ("ego vehicle")
