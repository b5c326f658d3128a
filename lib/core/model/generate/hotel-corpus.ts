/**
 * The built-in text the generated tokenizer learns its merges from: hotel photo vocabulary and
 * CLIP prompt phrasing, so that prompts such as "a photo of a hotel room with an ocean view"
 * encode to one token per word. Every word here ends up a single token.
 */
export const HOTEL_CORPUS = `
a photo of a hotel room with an ocean view
a photo of the lobby of a luxury hotel
a picture of a family room with two queen beds and a sofa bed
an image of a king bed in a deluxe suite with a balcony
a swimming pool with sun loungers and umbrellas by the beach
an infinity pool overlooking the sea at sunset
a restaurant with tables chairs and a buffet breakfast
a bar with cocktails wine and a terrace
a spa with a sauna steam room hot tub jacuzzi and massage
a fitness center gym with treadmills and weights
a bathroom with a bathtub shower sink mirror toilet and towels
a city skyline view from the window at night
a mountain view from the terrace in winter with snow
a garden with palm trees flowers and a fountain
a conference room meeting room business center for events
a wedding venue ballroom with chandeliers
a kids club playground for children and families
a twin room single bed double bed crib cot
an accessible room wheelchair accessible roll in shower grab bars
a kitchenette kitchen with a microwave refrigerator fridge minibar coffee maker kettle
a desk chair lamp television tv wardrobe closet safe
free wifi parking garage entrance exterior facade building
reception front desk concierge check in elevator hallway corridor stairs
a lake river harbor marina boat pier dock
a golf course tennis court beach volleyball water park slide
a rooftop lounge patio courtyard fireplace library
a resort villa bungalow cabin chalet apartment studio penthouse
a pet friendly dog cat
daylight morning evening dusk dawn sunrise indoor outdoor interior
modern classic rustic elegant cozy spacious bright dark clean
breakfast lunch dinner food drinks dessert cake fruit
white blue green red black brown beige gray wooden marble glass
airport shuttle bus taxi car train station downtown old town street
it is not a this that these those there here is are was be on in at to for from by near
`;
