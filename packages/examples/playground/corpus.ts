/**
 * The text the playground learns from: a handful of Aesop's fables, retold in plain English in
 * the manner of the public-domain Victorian translations (Townsend 1867, Jacobs 1894). About 5 KB,
 * small enough to ship in the page and big enough that a character-level model learns words,
 * spaces and capitals within a few hundred steps.
 * @module
 */
/** One fable per entry. */
const FABLES = [
  'The Fox and the Grapes. A hungry Fox saw some fine bunches of Grapes hanging from a vine that was ' +
    'trained along a high trellis, and did his best to reach them by jumping as high as he could into ' +
    'the air. But it was all in vain, for they were just out of reach: so he gave up trying, and walked ' +
    'away with an air of dignity and unconcern, remarking, "I thought those Grapes were ripe, but I see ' +
    'now they are quite sour." It is easy to despise what you cannot get.',
  'The Wolf and the Lamb. A Wolf came upon a Lamb straying from the flock, and felt some compunction ' +
    'about taking the life of so helpless a creature without some plausible excuse. So he cried out, ' +
    '"Sirrah, last year you grossly insulted me." "Indeed," bleated the Lamb in a mournful tone of ' +
    'voice, "I was not then born." Then said the Wolf, "You feed in my pasture." "No, good sir," replied ' +
    'the Lamb, "I have not yet tasted grass." Again said the Wolf, "You drink of my well." "No," ' +
    'exclaimed the Lamb, "I never yet drank water, for as yet my mother\'s milk is both food and drink to ' +
    'me." Upon which the Wolf seized him and ate him up, saying, "Well! I won\'t remain supperless, even ' +
    'though you refute every one of my imputations." The tyrant will always find a pretext for his ' +
    'tyranny.',
  'The Hare and the Tortoise. A Hare one day ridiculed the short feet and slow pace of the Tortoise, ' +
    'who replied, laughing, "Though you be swift as the wind, I will beat you in a race." The Hare, ' +
    'believing her assertion to be simply impossible, assented to the proposal; and they agreed that the ' +
    'Fox should choose the course and fix the goal. On the day appointed for the race the two started ' +
    'together. The Tortoise never for a moment stopped, but went on with a slow but steady pace straight ' +
    'to the end of the course. The Hare, lying down by the wayside, fell fast asleep. At last waking up, ' +
    'and moving as fast as he could, he saw the Tortoise had reached the goal, and was comfortably ' +
    'dozing after her fatigue. Slow but steady wins the race.',
  'The Lion and the Mouse. A Lion was awakened from sleep by a Mouse running over his face. Rising up ' +
    'angrily, he caught him and was about to kill him, when the Mouse piteously entreated, saying, "If ' +
    'you would only spare my life, I would be sure to repay your kindness." The Lion laughed and let him ' +
    'go. It happened shortly after this that the Lion was caught by some hunters, who bound him by ' +
    'strong ropes to the ground. The Mouse, recognizing his roar, came and gnawed the rope with his ' +
    'teeth, and set him free, exclaiming, "You ridiculed the idea of my ever being able to help you, not ' +
    'expecting to receive from me any repayment of your favor; now you know that it is possible for even ' +
    'a Mouse to confer benefits on a Lion." No act of kindness, however small, is ever wasted.',
  "The Ant and the Grasshopper. In a field one summer's day a Grasshopper was hopping about, chirping " +
    "and singing to its heart's content. An Ant passed by, bearing along with great toil an ear of corn " +
    'he was taking to the nest. "Why not come and chat with me," said the Grasshopper, "instead of ' +
    'toiling and moiling in that way?" "I am helping to lay up food for the winter," said the Ant, "and ' +
    'recommend you to do the same." "Why bother about winter?" said the Grasshopper; "we have got plenty ' +
    'of food at present." But the Ant went on its way and continued its toil. When the winter came the ' +
    'Grasshopper had no food, and found itself dying of hunger, while it saw the ants distributing every ' +
    'day corn and grain from the stores they had collected in the summer. Then the Grasshopper knew: it ' +
    'is best to prepare for the days of necessity.',
  'The Crow and the Pitcher. A Crow perishing with thirst saw a pitcher, and hoping to find water, ' +
    'flew to it with delight. When he reached it, he discovered to his grief that it contained so little ' +
    'water that he could not possibly get at it. He tried everything he could think of to reach the ' +
    'water, but all his efforts were in vain. At last he collected as many stones as he could carry and ' +
    'dropped them one by one with his beak into the pitcher, until he brought the water within his reach ' +
    'and thus saved his life. Necessity is the mother of invention.',
  'The North Wind and the Sun. The North Wind and the Sun disputed as to which was the most powerful, ' +
    'and agreed that he should be declared the victor who could first strip a wayfaring man of his ' +
    'clothes. The North Wind first tried his power and blew with all his might, but the keener his ' +
    'blasts, the closer the Traveler wrapped his cloak around him, until at last, resigning all hope of ' +
    'victory, the Wind called upon the Sun to see what he could do. The Sun suddenly shone out with all ' +
    'his warmth. The Traveler no sooner felt his genial rays than he took off one garment after another, ' +
    'and at last, fairly overcome with heat, undressed and bathed in a stream that lay in his path. ' +
    'Persuasion is better than force.',
  'The Dog and the Shadow. It happened that a Dog had got a piece of meat and was carrying it home in ' +
    'his mouth to eat it in peace. Now on his way home he had to cross a plank lying across a running ' +
    'brook. As he crossed, he looked down and saw his own shadow reflected in the water beneath. ' +
    'Thinking it was another dog with another piece of meat, he made up his mind to have that also. So ' +
    'he made a snap at the shadow in the water, but as he opened his mouth the piece of meat fell out, ' +
    'dropped into the water and was never seen more. Beware lest you lose the substance by grasping at ' +
    'the shadow.',
  'The Fox and the Crow. A Crow having stolen a bit of meat, perched in a tree and held it in her ' +
    'beak. A Fox, seeing this, longed to possess the meat himself, and by a wily stratagem succeeded. ' +
    '"How handsome is the Crow," he exclaimed, "in the beauty of her shape and in the fairness of her ' +
    'complexion! Oh, if her voice were only equal to her beauty, she would deservedly be considered the ' +
    'Queen of Birds!" This he said deceitfully; but the Crow, anxious to refute the reflection cast upon ' +
    'her voice, set up a loud caw and dropped the flesh. The Fox quickly picked it up, and thus ' +
    'addressed the Crow: "My good Crow, your voice is right enough, but your wit is wanting." Do not ' +
    'trust flatterers.',
];

/** The fables, a blank line between them. */
export const CORPUS = `${FABLES.join('\n\n')}\n`;
